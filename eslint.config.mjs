// 代码检查 Lint: ESLint's and typescript-eslint's recommended rules, as they ship, over every source file (the few
// exceptions below each say why; a deliberate exception on one line says why beside its eslint-disable comment);
// run by `npm run lint` and by CI (.ci/run). Needs the dev dependencies eslint, @eslint/js and typescript-eslint.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'coverage/', '.data/', '.tools/', 'node_modules/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a deliberately unused name: `const { markdown: _markdown, ...rest } = x` leaves a
      // field out of a copy, `(..._: unknown[])` takes arguments it ignores. Everything else unused is an error.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests read HTTP bodies, query results and recorded histories that have no static type; asserting on them
    // through `any` is what the tests are for (the assertions fail if the shape is wrong). Production code keeps the rule.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The CommonJS configuration files (jest) and the test reporter run under Node.
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly', console: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
