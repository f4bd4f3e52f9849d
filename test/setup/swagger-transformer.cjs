// ts-jest adapter for the @nestjs/swagger CLI plugin (the same plugin `nest build` runs).
const plugin = require('@nestjs/swagger/plugin');

module.exports.name = 'nestjs-swagger-transformer';
module.exports.version = 1;
module.exports.factory = (compiler) =>
  plugin.before(
    { introspectComments: true, classValidatorShim: true, dtoFileNameSuffix: ['.dto.ts', '.response.ts'] },
    compiler.program,
  );
