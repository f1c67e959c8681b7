// 代码检查 Lint: ESLint's and typescript-eslint's recommended rules, as they ship, over every source file;
// run by `npm run lint` and by CI (.ci/run). Needs the dev dependencies eslint, @eslint/js and typescript-eslint.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'coverage/', '.data/', '.tools/', 'node_modules/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
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
