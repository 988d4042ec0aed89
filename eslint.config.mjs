// Lint rules for the TypeScript: the construct, its tests and the example
// app. The rule set follows aws-cdk's (its eslint config and the cdklabs
// plugin's jsii-minded rules), written for ESLint 9 flat config.
import stylistic from '@stylistic/eslint-plugin';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/lib/**', '**/dist/**', '**/cdk.out/**', '**/*.d.ts', '**/*.js', '**/*.mjs',
      '.tools/**', '.venv/**', 'integ-tests/**'],
  },
  {
    files: ['construct/src/**/*.ts', 'construct/test/**/*.ts', 'cdk-app/**/*.ts'],
    extends: [tseslint.configs.recommended],
    languageOptions: {
      parserOptions: {
        project: ['construct/tsconfig.json', 'construct/tsconfig.dev.json', 'cdk-app/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { '@stylistic': stylistic, 'import-x': importX },
    rules: {
      // Formatting, as aws-cdk writes it.
      '@stylistic/indent': ['error', 2],
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/semi': ['error', 'always'],
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
      '@stylistic/max-len': ['error', { code: 150, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true,
        ignoreComments: false, ignoreRegExpLiterals: true }],
      '@stylistic/no-trailing-spaces': 'error',
      '@stylistic/eol-last': 'error',
      '@stylistic/no-multiple-empty-lines': ['error', { max: 1 }],
      '@stylistic/brace-style': ['error', '1tbs', { allowSingleLine: true }],
      '@stylistic/key-spacing': 'error',
      '@stylistic/keyword-spacing': 'error',
      '@stylistic/space-before-blocks': 'error',
      '@stylistic/member-delimiter-style': 'error',
      '@stylistic/object-curly-spacing': ['error', 'always'],
      // Imports: ordered, no duplicates, nothing CommonJS.
      'import-x/order': ['error', { groups: ['builtin', 'external'], alphabetize: { order: 'asc', caseInsensitive: true } }],
      'import-x/no-duplicates': 'error',
      '@typescript-eslint/no-require-imports': 'error',
      // Correctness.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/return-await': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'curly': ['error', 'multi-line', 'consistent'],
      'dot-notation': 'error',
      'no-shadow': 'off',
      '@typescript-eslint/no-shadow': 'error',
      // jsii-minded rules of aws-cdk (cdklabs plugin): no literal partitions
      // in ARNs, no construct base class from the old core package.
      'no-restricted-syntax': ['error', {
        selector: 'Literal[value=/^arn:aws:/]',
        message: 'use Stack.of(this).partition (or Aws.PARTITION) instead of a literal partition in an ARN',
      }],
      'no-restricted-imports': ['error', { paths: [{ name: '@aws-cdk/core', message: 'use aws-cdk-lib and constructs' }] }],
    },
  },
  {
    // Tests may build ARNs from literals and use non-null assertions;
    // node:test's test() and describe() return promises the runner awaits.
    files: ['construct/test/**/*.ts'],
    rules: {
      'no-restricted-syntax': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
