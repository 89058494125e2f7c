/** Schemas shared by route areas. */
import { Type } from '@sinclair/typebox';

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    code: Type.String(),
    status: Type.Integer(),
    title: Type.String(),
    detail: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem' },
);

/** GET routes that take no query parameters still say so: an unknown parameter is a 400. */
export const NoQuery = Type.Object({}, { additionalProperties: false });
export const Empty = Type.Object({}, { additionalProperties: false });

export const IsoDate = Type.String({ format: 'date', description: 'YYYY-MM-DD' });
export const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }) }, { additionalProperties: false });

/** Paging: page sizes are clamped (B14): at most 200 items per page. */
export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
};
