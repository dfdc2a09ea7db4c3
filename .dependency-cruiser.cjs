/**
 * The import rules of xp's tree, checked by tests/architecture.test.ts (dependency-cruiser):
 * app -> components -> framework, no circles, and components reach the engine only through
 * its public face, index.ts (what a user's block imports as 'xp').
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No import circles.', from: {}, to: { circular: true } },
    {
      name: 'engine-not-to-components',
      severity: 'error',
      comment: 'The engine never names a component: the app tells it which modules to load.',
      from: { path: '^(framework/|index\\.ts$)' },
      to: { path: '^components/' },
    },
    {
      name: 'engine-not-to-app',
      severity: 'error',
      comment: 'The engine never imports the app.',
      from: { path: '^(framework/|index\\.ts$)' },
      to: { path: '^app/' },
    },
    {
      name: 'components-not-to-app',
      severity: 'error',
      comment: 'Components get what the app provides by injection.',
      from: { path: '^components/' },
      to: { path: '^app/' },
    },
    {
      name: 'components-through-the-public-face',
      severity: 'error',
      comment: "Components import the engine only through index.ts, the face a user's block imports as 'xp'.",
      from: { path: '^components/' },
      to: { path: '^framework/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^node_modules|^dist|\\.as\\.ts$)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
