// ESM-only packages (pbf, @mapbox/vector-tile, geojson-vt, swagger-parser's ref parser, ...) are compiled to CommonJS by swc like our own code.
const esmOnly = ['@apidevtools/json-schema-ref-parser', '@maplibre/vt-pbf', 'pbf', '@mapbox/vector-tile', '@mapbox/point-geometry', 'geojson-vt', 'koa-body'];
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j|mj)s$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }] },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
