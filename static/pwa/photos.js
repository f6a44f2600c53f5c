/* Downscale a photo on the phone before it is stored or sent: ≤ 1600 px on the long side,
   JPEG. Orientation from EXIF is applied by the decoder; the canvas re-encode drops EXIF. */
export async function downscale(file, max = 1600, quality = 0.85) {
  let source;
  try {
    source = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    source = new Image();
    source.src = URL.createObjectURL(file);
    await source.decode();
  }
  const scale = Math.min(1, max / Math.max(source.width, source.height));
  const width = Math.max(1, Math.round(source.width * scale));
  const height = Math.max(1, Math.round(source.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(source, 0, 0, width, height);
  source.close?.();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
  return { blob, width, height };
}
