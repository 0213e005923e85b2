// Bundles the demo pages in memory with esbuild at start: the main page is small (one bundle, ~200 kB with
// React), the OpenAI SDK mode's page carries OpenAI's Agents SDK (~1.4 MB, only loaded on that page), building
// both takes about a second, and there is no stale build to forget about.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** A file the server can send. */
export interface Asset {
  body: Buffer;
  contentType: string;
}

export interface BuildOptions {
  /** Minify the bundle (production); off keeps stack traces readable. @defaultValue true */
  minify?: boolean;
}

const PAGE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'page');

/**
 * The protocol library's index also exports its TypeBox validators, which compile to `new Function` when
 * the module loads: that fails under a CSP without 'unsafe-eval' and weighs ~200 kB. The page only uses
 * its types and pure tables, so its modules are marked side-effect free and the validators drop out.
 */
const protocolWithoutSideEffects: Plugin = {
  name: 'rtv-protocol-side-effect-free',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'resolved') return undefined;
      const fromProtocol = args.importer.includes(
        `${path.sep}libs${path.sep}protocol${path.sep}src${path.sep}`,
      );
      if (args.path !== '@rtv/protocol' && !fromProtocol) return undefined;
      const result = await b.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: 'resolved',
      });
      return { ...result, sideEffects: false };
    });
  },
};

/**
 * Builds the pages: `/index.html` with `/app.js`, and the OpenAI SDK mode's `/openai.html` with
 * `/openai-sdk.js` (plus their source maps). Two bundles rather than one with a lazily loaded part: the
 * main page stays as small as it was, and neither page loads what only the other uses.
 */
export async function buildDemoAssets(options: BuildOptions = {}): Promise<Map<string, Asset>> {
  const result = await build({
    entryPoints: {
      app: path.join(PAGE_DIR, 'main.ts'),
      'openai-sdk': path.join(PAGE_DIR, 'openai-main.ts'),
    },
    bundle: true,
    write: false,
    outdir: '/',
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox115', 'safari16.4'],
    // Libraries are consumed from source, like everywhere else in the repository.
    conditions: ['source'],
    minify: options.minify ?? true,
    sourcemap: 'linked',
    legalComments: 'none',
    define: {
      'process.env.NODE_ENV': JSON.stringify(options.minify === false ? 'development' : 'production'),
    },
    plugins: [protocolWithoutSideEffects],
    logLevel: 'silent',
  });
  const assets = new Map<string, Asset>();
  for (const file of result.outputFiles) {
    const contentType = file.path.endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8';
    assets.set(file.path, { body: Buffer.from(file.contents), contentType });
  }
  const { readFile } = await import('node:fs/promises');
  const index = await readFile(path.join(PAGE_DIR, 'index.html'), 'utf8');
  const html = (text: string) => ({ body: Buffer.from(text), contentType: 'text/html; charset=utf-8' });
  assets.set('/index.html', html(index));
  assets.set('/openai.html', html(openAiPage(index)));
  return assets;
}

/**
 * The OpenAI SDK mode's page: the main page's markup (head, styles, config script) with its own title and
 * bundle, so the two pages cannot drift apart. Throws if the main page no longer has what is replaced.
 */
function openAiPage(index: string): string {
  const replacements: Array<[string, string]> = [
    ['<title>realtime-voice demo</title>', '<title>realtime-voice demo · OpenAI SDK mode</title>'],
    ['<script type="module" src="/app.js"></script>', '<script type="module" src="/openai-sdk.js"></script>'],
  ];
  let page = index;
  for (const [from, to] of replacements) {
    if (!page.includes(from)) throw new Error(`index.html no longer contains ${from}`);
    page = page.replace(from, to);
  }
  return page;
}
