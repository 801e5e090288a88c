import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TandemError } from '../../common/errors.ts';

/** One file the status page loads. */
export interface UiAsset {
  readonly contentType: string;
  readonly body: Buffer;
}

const STATIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'static');

/**
 * Every file the page loads, by URL path: its own files under static/ and uPlot's browser build
 * from node_modules (installed from the npm registry; nothing is fetched at run time). A fixed
 * table, so no request path ever reaches the file system. Read once, at start-up.
 */
export function loadUiAssets(): Map<string, UiAsset> {
  const uplotDir = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
  const files: [path: string, file: string, contentType: string][] = [
    ['/ui', join(STATIC_DIR, 'index.html'), 'text/html; charset=utf-8'],
    ['/ui/app.js', join(STATIC_DIR, 'app.js'), 'text/javascript; charset=utf-8'],
    ['/ui/charts.js', join(STATIC_DIR, 'charts.js'), 'text/javascript; charset=utf-8'],
    ['/ui/format.js', join(STATIC_DIR, 'format.js'), 'text/javascript; charset=utf-8'],
    ['/ui/style.css', join(STATIC_DIR, 'style.css'), 'text/css; charset=utf-8'],
    ['/ui/vendor/uPlot.esm.js', join(uplotDir, 'uPlot.esm.js'), 'text/javascript; charset=utf-8'],
    ['/ui/vendor/uPlot.min.css', join(uplotDir, 'uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  const assets = new Map<string, UiAsset>();
  for (const [path, file, contentType] of files) {
    try {
      assets.set(path, { contentType, body: readFileSync(file) });
    } catch (error) {
      throw new TandemError(
        'internal',
        `the status page cannot load ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): run npm install`,
        { cause: error },
      );
    }
  }
  return assets;
}
