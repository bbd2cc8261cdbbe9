// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'coverage/**', 'tests/artifacts/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // Layering: the core is plain Node. The Electron shell, the CLI and the web server adapt it.
    files: ['src-main/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'src-main/core never imports electron: go through core/api.ts from src-main/app.' }],
          patterns: [
            { group: ['electron/*'], message: 'src-main/core never imports electron.' },
            { group: ['**/app/**', '**/cli/**', '**/server/**'], message: 'core must not depend on its adapters.' },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.name='require'][arguments.0.value='electron']",
          message: 'src-main/core never imports electron.',
        },
      ],
    },
  },
  {
    // The renderer and the preload see the backend only through the contract's types.
    files: ['src-renderer/**/*.ts', 'src-preload/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/src-main/**'], allowTypeImports: true, message: 'Import the backend contract as types only.' }] },
      ],
    },
  },
  {
    // Stores and views reach the backend through services/api.ts, never window.earmark.
    files: ['src-renderer/src/stores/**/*.ts', 'src-renderer/src/views/**/*.ts', 'src-renderer/src/components/**/*.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'window', property: 'earmark', message: 'Use services/api.ts.' }],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
