/**
 * Errors as RFC 9457 problem details (`application/problem+json`), one shape
 * for every route: a stable `code`, the HTTP `status`, a `title` in the
 * caller's language (zh-CN or English, from Accept-Language), a specific
 * `detail` that says what is wrong and how to fix it, and for validation
 * failures the list of `errors` (where, what).
 */
export interface ProblemBody {
  type: string;
  code: string;
  status: number;
  title: string;
  detail: string;
  errors?: { path: string; message: string }[];
}

const TITLES: Readonly<Record<number, { en: string; zh: string }>> = {
  400: { en: 'The request is not valid', zh: '请求无效' },
  401: { en: 'Not logged in', zh: '未登录' },
  403: { en: 'Not allowed', zh: '无权操作' },
  404: { en: 'Not found', zh: '未找到' },
  409: { en: 'Conflict', zh: '数据冲突' },
  413: { en: 'The request is too large', zh: '请求过大' },
  415: { en: 'Unsupported content type', zh: '不支持的内容类型' },
  422: { en: 'The data cannot be accepted', zh: '数据无法接受' },
  429: { en: 'Too many requests', zh: '请求过于频繁' },
  500: { en: 'Server error', zh: '服务器错误' },
  503: { en: 'Service unavailable', zh: '服务暂不可用' },
};

export function titleFor(status: number, acceptLanguage: string | undefined): string {
  const t = TITLES[status] ?? TITLES[500]!;
  return /^\s*zh\b/i.test(acceptLanguage ?? '') ? t.zh : t.en;
}

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors?: { path: string; message: string }[],
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

export const problems = {
  badRequest: (detail: string, errors?: { path: string; message: string }[]) => new HttpProblem(400, 'bad_request', detail, errors),
  unauthorized: (detail = 'log in first (POST /api/v1/auth/login) or send an API token (Authorization: Bearer …)') =>
    new HttpProblem(401, 'unauthorized', detail),
  forbidden: (detail = 'your role does not allow this') => new HttpProblem(403, 'forbidden', detail),
  /** Also what a member gets for someone else's object: no hint that it exists. */
  notFound: (what: string) => new HttpProblem(404, 'not_found', `${what} does not exist`),
  conflict: (detail: string) => new HttpProblem(409, 'conflict', detail),
  unprocessable: (detail: string, errors?: { path: string; message: string }[]) => new HttpProblem(422, 'unprocessable', detail, errors),
  tooMany: (detail: string) => new HttpProblem(429, 'too_many_requests', detail),
  unavailable: (detail: string) => new HttpProblem(503, 'unavailable', detail),
};

export function problemBody(status: number, code: string, detail: string, acceptLanguage: string | undefined, errors?: { path: string; message: string }[]): ProblemBody {
  return {
    type: `https://openfacility.example/problems/${code}`,
    code,
    status,
    title: titleFor(status, acceptLanguage),
    detail,
    ...(errors && errors.length > 0 && { errors }),
  };
}
