import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'var/**', 'coverage/**', 'eslint.config.js', '.*'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // fastify plugins and route handlers are async by contract, with or without an await inside.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The browser pages' scripts (server/web/*.js): plain ES modules served as they are (no build step),
    // outside the TypeScript project, so linted without type information, against the browser's globals.
    files: ['server/web/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'module',
      parserOptions: { projectService: false, program: null },
      globals: Object.fromEntries(['window', 'document', 'fetch', 'EventSource', 'FormData', 'Node', 'URL', 'console'].map((g) => [g, 'readonly'])),
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, 'no-undef': 'error', 'no-unused-vars': 'off' },
  },
  {
    // core/ is pure: no I/O modules, no clock.
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['node:fs', 'node:fs/*', 'fs', 'node:net', 'net', 'node:http', 'node:child_process', 'mqtt', 'aedes', 'serialport', 'better-sqlite3', 'fastify', 'pino'], message: 'core/ is pure: no I/O.' },
      ] }],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'core/ takes time as an argument.' },
        { object: 'Math', property: 'random', message: 'core/ is deterministic.' },
      ],
    },
  },
);
