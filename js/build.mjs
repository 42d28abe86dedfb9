// Bundle the widget front ends into embed_nb/static/ (one ES module per widget, plus CSS).
// Everything is bundled: the widgets load nothing from a CDN at run time.
import { build, context } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const options = {
  entryPoints: ["similarity", "projection", "rerank", "compare", "standalone"].map((n) => path.join(here, "src", `${n}.js`))
    .concat([path.join(here, "src", "widgets.css")]),
  outdir: path.join(here, "..", "embed_nb", "static"),
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: !process.argv.includes("--dev"),
  sourcemap: false,
  legalComments: "none",
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const ctx = await context({ ...options, minify: false });
  await ctx.watch();
} else {
  await build(options);
}
