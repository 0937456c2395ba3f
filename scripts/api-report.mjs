#!/usr/bin/env node
// The API report of each entry point of the package in the current folder
// (every subpath of package.json "exports"), written by API Extractor from the
// built .d.ts files to api/<name>.api.md and checked in. Without arguments it
// checks: an export added, removed or changed without its report fails.
// With --local (root: `pnpm api:update`) it rewrites the reports instead.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor';

const local = process.argv.includes('--local');
const projectFolder = process.cwd();
const packageJsonFullPath = path.join(projectFolder, 'package.json');
const pkg = JSON.parse(readFileSync(packageJsonFullPath, 'utf8'));
const unscoped = pkg.name.replace(/^@[^/]+\//, '');

if (local) mkdirSync(path.join(projectFolder, 'api'), { recursive: true });
let failed = 0;
for (const [subpath, target] of Object.entries(pkg.exports)) {
  const types = typeof target === 'string' ? undefined : target.types;
  if (!types) throw new Error(`${pkg.name}: export "${subpath}" names no "types" file`);
  const reportName = subpath === '.' ? unscoped : `${unscoped}-${subpath.replace(/^\.\//, '').replaceAll('/', '-')}`;
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder,
      mainEntryPointFilePath: path.join(projectFolder, types),
      compiler: { tsconfigFilePath: path.join(projectFolder, 'tsconfig.build.json') },
      apiReport: {
        enabled: true,
        reportFileName: `${reportName}.api.md`,
        reportFolder: path.join(projectFolder, 'api'),
        reportTempFolder: path.join(projectFolder, 'node_modules/.cache/api-extractor'),
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      newlineKind: 'lf',
      messages: {
        compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
        extractorMessageReporting: {
          default: { logLevel: ExtractorLogLevel.Warning },
          // Release tags (@public, @beta) are not used: everything exported is public.
          'ae-missing-release-tag': { logLevel: ExtractorLogLevel.None },
          // A type used by the API but not exported is a finding for review: it goes into the report.
          'ae-forgotten-export': { logLevel: ExtractorLogLevel.None, addToApiReportFile: true },
          'ae-undocumented': { logLevel: ExtractorLogLevel.None },
          // TypeDoc resolves the {@link}s and fails on a broken one; its rules differ from TSDoc's.
          'ae-unresolved-link': { logLevel: ExtractorLogLevel.None },
        },
        // TypeDoc checks the doc comments (`pnpm test` runs it with warnings as errors).
        tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
      },
    },
    configObjectFullPath: undefined,
    packageJsonFullPath,
  });
  const result = Extractor.invoke(config, {
    localBuild: local,
    // In a check, print what changed, so the CI log shows the export that differs.
    printApiReportDiff: !local,
    // Only warnings and errors: the banner lines would bury them in turbo's output.
    messageCallback(message) {
      if (message.logLevel === ExtractorLogLevel.Info || message.logLevel === ExtractorLogLevel.Verbose) {
        message.handled = true;
      }
    },
  });
  if (!result.succeeded) {
    failed++;
    console.error(
      `${pkg.name} (${subpath}): the API report api/${reportName}.api.md does not match the exports.` +
        ' If the change is meant, run `pnpm api:update` and commit the report for review.',
    );
  }
}
process.exitCode = failed > 0 ? 1 : 0;
