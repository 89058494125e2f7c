/**
 * Where a process's main thread spends the wall-clock time, from Linux's
 * /proc (no tracing, no privileges): on a CPU, waiting for one (run queue),
 * or off it — asleep in its event loop (S) or blocked in the kernel (D, with
 * the kernel function it waits in: /proc/…/wchan). Node's event-loop
 * utilisation counts the last two alike as "busy" when they happen inside a
 * JavaScript task, e.g. a synchronous write that waits for the file system.
 */
import { readFileSync } from 'node:fs';

export interface ThreadTime {
  readonly windowMs: number;
  /** Time on a CPU and time runnable but waiting for one (schedstat), ms. */
  readonly onCpuMs: number;
  readonly runQueueMs: number;
  /** Share of samples in each scheduler state (R running/runnable, S sleeping, D uninterruptible). */
  readonly states: Record<string, number>;
  /** For D samples: the kernel function waited in, and how many samples. */
  readonly blockedIn: Record<string, number>;
  readonly samples: number;
}

function schedstat(path: string): [number, number] {
  const [cpu = '0', wait = '0'] = readFileSync(`${path}/schedstat`, 'utf8').trim().split(' ');
  return [Number(cpu) / 1e6, Number(wait) / 1e6];
}

export class ThreadSampler {
  private readonly path: string;
  private timer: NodeJS.Timeout | null = null;
  private readonly states: Record<string, number> = {};
  private readonly blockedIn: Record<string, number> = {};
  private samples = 0;
  private start0: [number, number] = [0, 0];
  private startedAt = 0;

  /** The main thread of `pid` (its thread id is the process id). */
  constructor(pid: number) {
    this.path = `/proc/${pid}/task/${pid}`;
  }

  start(everyMs = 2): void {
    this.start0 = schedstat(this.path);
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  stop(): ThreadTime {
    if (this.timer) clearInterval(this.timer);
    const [cpu, wait] = schedstat(this.path);
    const share = Object.fromEntries(Object.entries(this.states).map(([k, v]) => [k, Math.round((v / this.samples) * 1000) / 1000]));
    return {
      windowMs: Math.round(performance.now() - this.startedAt),
      onCpuMs: Math.round(cpu - this.start0[0]),
      runQueueMs: Math.round(wait - this.start0[1]),
      states: share,
      blockedIn: this.blockedIn,
      samples: this.samples,
    };
  }

  private sample(): void {
    try {
      const stat = readFileSync(`${this.path}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      this.samples++;
      this.states[state] = (this.states[state] ?? 0) + 1;
      if (state === 'D') {
        const fn = readFileSync(`${this.path}/wchan`, 'utf8').trim() || '?';
        this.blockedIn[fn] = (this.blockedIn[fn] ?? 0) + 1;
      }
    } catch {
      /* the process has gone */
    }
  }
}

/** CPU time the whole machine spent busy (user, nice, system, irq, softirq) and stolen by the hypervisor, ms. */
export function machineCpuMs(): { busy: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).map(Number);
  const tick = 10; // USER_HZ = 100
  return { busy: (user + nice + system + irq + softirq) * tick, steal: steal * tick };
}
