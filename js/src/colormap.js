// Viridis, 256 entries (the same table as embed_nb.widgets._static.viridis): perceptually
// uniform and readable with the common colour-vision deficiencies. A numeric column arrives as
// one byte per point: 0..254 span the column's range, 255 is a missing value.
export const VIRIDIS = [
  "440154", "440255", "440457", "440558", "450659", "45085a", "45095c", "450b5d", "450c5e", "450d60", "460f61", "461062", "461164", "461365", "461466", "461667",
  "471769", "47186a", "471a6b", "471b6d", "471c6e", "471e6f", "471f70", "482172", "482273", "482374", "482575", "482676", "472777", "472877", "472a78", "462b79",
  "462c7a", "462d7a", "462f7b", "45307c", "45317c", "45327d", "45347e", "44357f", "44367f", "443780", "433981", "433a81", "433b82", "433c83", "423e83", "423f84",
  "424085", "424186", "414386", "414487", "414587", "404687", "404788", "3f4888", "3f4988", "3e4a88", "3e4b89", "3d4c89", "3d4e89", "3c4f89", "3c508a", "3b518a",
  "3b528a", "3a538a", "3a548b", "39558b", "39568b", "39578b", "38588b", "38598c", "375a8c", "375b8c", "365c8c", "365d8d", "355e8d", "355f8d", "34608d", "34618d",
  "33628d", "33638d", "33648d", "32658d", "32668d", "31678d", "31688d", "30698d", "306a8d", "306b8d", "2f6c8e", "2f6d8e", "2e6e8e", "2e6f8e", "2d708e", "2d718e",
  "2d728e", "2c738e", "2c748e", "2b758e", "2b768e", "2a778e", "2a788e", "2a798e", "297a8e", "297b8e", "297c8e", "287d8e", "287e8e", "287f8d", "27808d", "27818d",
  "26828d", "26838d", "26848d", "25858d", "25868d", "25878d", "24888d", "24898d", "248a8d", "238b8d", "238c8c", "238d8c", "228e8c", "228f8c", "22908c", "21918c",
  "21918c", "21928c", "21938b", "21948b", "21958b", "21968a", "21978a", "21988a", "219989", "219a89", "219a89", "219b88", "219c88", "229d88", "229e87", "229f87",
  "22a087", "22a187", "22a286", "22a386", "22a386", "22a485", "22a585", "22a685", "22a784", "22a884", "23a983", "25aa82", "26ab82", "27ac81", "29ad80", "2aad7f",
  "2bae7f", "2daf7e", "2eb07d", "2fb17c", "31b27b", "32b37b", "33b47a", "35b579", "36b678", "37b677", "39b777", "3ab876", "3bb975", "3dba74", "3ebb74", "3fbc73",
  "41bd72", "42be71", "43bf70", "45bf6f", "47c06e", "49c16d", "4bc16c", "4ec26b", "50c369", "52c468", "54c467", "56c566", "58c664", "5ac663", "5cc762", "5ec861",
  "61c960", "63c95e", "65ca5d", "67cb5c", "69cb5b", "6bcc5a", "6dcd58", "6fcd57", "72ce56", "74cf55", "76d053", "78d052", "7ad151", "7dd24f", "7fd24e", "82d34c",
  "85d34a", "87d449", "8ad447", "8cd545", "8fd544", "92d642", "94d640", "97d73e", "9ad83d", "9cd83b", "9fd939", "a1d938", "a4da36", "a7da34", "a9db33", "acdb31",
  "afdc2f", "b1dd2e", "b4dd2c", "b6de2a", "b9de29", "bcdf27", "bedf26", "c1df26", "c3e026", "c6e026", "c8e026", "cbe126", "cde126", "d0e126", "d2e226", "d5e226",
  "d7e226", "dae326", "dce326", "dfe325", "e1e425", "e4e425", "e6e425", "e9e425", "ebe525", "eee525", "f0e525", "f3e625", "f5e625", "f8e625", "fae725", "fde725",
].map((hex) => `#${hex}`);

export const MISSING_COLOR = "#bdbdbd";
export const MISSING_CODE = 255;

/** The colour of each code 0..255: value codes 0..254 over the whole LUT, 255 grey. */
export function numericColors() {
  const colors = [];
  for (let c = 0; c < 255; c++) colors.push(VIRIDIS[Math.round((c * 255) / 254)]);
  colors.push(MISSING_COLOR);
  return colors;
}

/** A colour bar: a canvas ramp with the column's low and high values under it. */
export function colorBar(el, low, high, missing, format) {
  const box = el("div", "enb-colorbar");
  const ramp = el("canvas", "enb-ramp");
  ramp.width = 256;
  ramp.height = 1;
  const ctx = ramp.getContext("2d");
  VIRIDIS.forEach((color, k) => {
    ctx.fillStyle = color;
    ctx.fillRect(k, 0, 1, 1);
  });
  const ticks = el("div", "enb-ramp-ticks");
  ticks.append(el("span", "enb-colorbar-low", format(low)), el("span", "enb-colorbar-high", format(high)));
  box.append(ramp, ticks);
  if (missing > 0) {
    const item = el("span", "enb-cat enb-colorbar-missing");
    const swatch = el("span", "enb-swatch");
    swatch.style.background = MISSING_COLOR;
    item.append(swatch, el("span", "enb-cat-name", `missing (${missing.toLocaleString()})`));
    box.append(item);
  }
  return box;
}
