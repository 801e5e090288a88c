import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { TandemError } from '../../common/errors.ts';
import { figuresFor } from './figures.ts';
import { experimentPage, indexPage, type Experiment } from './markdown.ts';
import { readResultFile, type ResultFile } from './result-file.ts';
import { renderLineChart } from './svg/line-chart.ts';
import { checkXml } from './svg/xml-check.ts';

export interface BuildReportOptions {
  /** Where the result files (*.json) are. */
  readonly inDir: string;
  /** Where pages and figures go (created if missing); may equal inDir. */
  readonly outDir: string;
}

export interface BuildReportResult {
  /** Files written, relative to outDir: README.md, <experiment>.md, <experiment>-<figure>.svg. */
  readonly written: readonly string[];
  /** Result files skipped, each with why. */
  readonly problems: readonly string[];
}

/**
 * Turns every result file in `inDir` into one Markdown page per experiment with its SVG figures,
 * plus README.md listing the pages. Files naming the same experiment share a page. A file that
 * does not parse is skipped and reported (the others still build). Output is a pure function of
 * the inputs (no timestamps), so committed reports only change when results do. An optional
 * `<experiment>.notes.md` beside the result files is placed on that page under the description:
 * verdicts and caveats written after the runs, which the result files (fixed by the command
 * that made them) cannot carry.
 */
export function buildReport(options: BuildReportOptions): BuildReportResult {
  const files = listJson(options.inDir);
  const problems: string[] = [];
  const loaded: { path: string; file: ResultFile }[] = [];
  for (const path of files) {
    const result = readResultFile(path);
    if (result.ok) loaded.push({ path, file: result.value });
    else problems.push(result.error.message);
  }

  const experiments = new Map<
    string,
    { title?: string | undefined; description?: string | undefined; files: string[]; runs: ResultFile['runs'] }
  >();
  for (const { path, file } of loaded) {
    const entry = experiments.get(file.experiment) ?? { files: [], runs: [] };
    entry.title ??= file.title;
    entry.description ??= file.description;
    entry.files.push(relative(options.outDir, path) || basename(path));
    entry.runs.push(...file.runs);
    experiments.set(file.experiment, entry);
  }

  mkdirSync(options.outDir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, text: string) => {
    writeFileSync(join(options.outDir, name), text);
    written.push(name);
  };
  const pages: Experiment[] = [];
  for (const [name, entry] of [...experiments].sort(([a], [b]) => a.localeCompare(b))) {
    const notesPath = join(options.inDir, `${name}.notes.md`);
    const notes = existsSync(notesPath) ? readFileSync(notesPath, 'utf8') : undefined;
    const experiment: Experiment = {
      name,
      title: entry.title ?? name,
      description: entry.description,
      notes,
      files: entry.files,
      runs: entry.runs,
    };
    const figures = figuresFor(experiment.title, experiment.runs).map((figure) => {
      const svg = renderLineChart(figure.chart);
      const check = checkXml(svg);
      if (check.problem)
        throw new TandemError('internal', `figure ${name}-${figure.key} is not well-formed SVG: ${check.problem}`);
      const file = `${name}-${figure.key}.svg`;
      write(file, svg);
      return { figure, file };
    });
    write(`${name}.md`, experimentPage(experiment, figures));
    pages.push(experiment);
  }
  write('README.md', indexPage(pages, problems));
  return { written, problems };
}

function listJson(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new TandemError('invalid_request', `cannot read ${dir}: ${(error as Error).message}`, { cause: error });
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => join(dir, n));
}
