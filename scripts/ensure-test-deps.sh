#!/bin/sh
# Installs the Debian packages the test suite needs, when they are missing. Idempotent: when everything is
# present it changes nothing and runs no apt-get at all.
#
#   sh scripts/ensure-test-deps.sh          install what is missing (root, Debian/Ubuntu)
#   sh scripts/ensure-test-deps.sh --check  only report; exit 1 if something is missing
#
# command      package             used by
# influxd      influxdb            integration tests (a private influxd per test file)
# mosquitto    mosquitto           MQTT 5 broker peer tests
# mosquitto_pub mosquitto-clients  publishing from outside Node in tests
# socat        socat               pseudo-terminal pairs for serial tests
# chromium     chromium            browser tests (printable pages), driven through playwright-core
# (a CJK font) fonts-wqy-microhei  Chinese text in the browser tests' screenshots and PDFs
set -eu

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  '') ;;
  -h|--help)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 0 ;;
  *)
    echo "ensure-test-deps: unknown argument '$1' (use --check or nothing)" >&2
    exit 2 ;;
esac

# Daemons such as mosquitto live in /usr/sbin, which a non-root PATH may lack. A package without a command
# (a font) is checked by a file it installs, given as an absolute path.
have() {
  case "$1" in
    /*) [ -e "$1" ]; return ;;
  esac
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]
}

missing_packages() {
  out=''
  for pair in influxd:influxdb mosquitto:mosquitto mosquitto_pub:mosquitto-clients socat:socat chromium:chromium \
      /usr/share/fonts/truetype/wqy/wqy-microhei.ttc:fonts-wqy-microhei; do
    cmd=${pair%%:*}
    pkg=${pair#*:}
    have "$cmd" || out="$out $pkg"
  done
  echo "${out# }"
}

missing=$(missing_packages)
if [ -z "$missing" ]; then
  echo "ensure-test-deps: all test dependencies present (influxd mosquitto mosquitto_pub socat chromium, a CJK font)"
  exit 0
fi

if [ "$check_only" -eq 1 ]; then
  echo "ensure-test-deps: missing Debian packages: $missing" >&2
  echo "  install them with: sh scripts/ensure-test-deps.sh (as root), or apt-get install -y $missing" >&2
  exit 1
fi

if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: missing: $missing" >&2
  echo "  This script installs them only on Debian/Ubuntu (apt-get). Install the equivalents by hand:" >&2
  echo "  InfluxDB 1.x (influxd, https://portal.influxdata.com/downloads/), Mosquitto broker and clients," >&2
  echo "  socat, Chromium and a Chinese font (WenQuanYi Micro Hei), then run the tests again." >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-test-deps: missing Debian packages: $missing" >&2
  echo "  Installing needs root. Run: sudo sh scripts/ensure-test-deps.sh" >&2
  echo "  (or: sudo apt-get update && sudo apt-get install -y $missing)" >&2
  exit 1
fi

# The tests run their own influxd and brokers on free ports; keep the packages' system services from
# starting during the install (Debian's invoke-rc.d honours policy-rc.d; exit 101 = "action forbidden").
# Only when no policy exists already (container images often ship one), and removed again afterwards.
policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
  if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# temporary, from OpenFacility scripts/ensure-test-deps.sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-test-deps: installing $missing"
apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y --no-install-recommends $missing

still=$(missing_packages)
if [ -n "$still" ]; then
  echo "ensure-test-deps: apt-get finished but these are still missing: $still" >&2
  exit 1
fi
echo "ensure-test-deps: all test dependencies present"
