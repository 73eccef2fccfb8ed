/** Test sketches made with sharp: line drawings, phone photos, broken files. */
import sharp from 'sharp';

/** A black-on-white line drawing (a house and a sun), `width`×`height`, as PNG. */
export async function lineSketch(width = 512, height = width, format: 'png' | 'jpeg' | 'webp' | 'tiff' = 'png'): Promise<Buffer> {
  const s = Math.min(width, height);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="white"/>
    <g stroke="black" stroke-width="${Math.max(2, s / 60)}" fill="none" stroke-linecap="round">
      <rect x="${s * 0.2}" y="${s * 0.45}" width="${s * 0.45}" height="${s * 0.4}"/>
      <polyline points="${s * 0.15},${s * 0.48} ${s * 0.425},${s * 0.2} ${s * 0.7},${s * 0.48}"/>
      <rect x="${s * 0.38}" y="${s * 0.62}" width="${s * 0.1}" height="${s * 0.23}"/>
      <circle cx="${s * 0.82}" cy="${s * 0.2}" r="${s * 0.08}"/>
    </g></svg>`;
  const img = sharp(Buffer.from(svg));
  switch (format) {
    case 'jpeg':
      return img.jpeg().toBuffer();
    case 'webp':
      return img.webp().toBuffer();
    case 'tiff':
      return img.tiff().toBuffer();
    default:
      return img.png().toBuffer();
  }
}

/** A 4032×3024 JPEG whose EXIF says "rotate 90° clockwise" (orientation 6), like a phone photo. */
export async function phonePhoto(): Promise<Buffer> {
  const sketch = await lineSketch(4032, 3024, 'png');
  return sharp(sketch).jpeg({ quality: 70 }).withMetadata({ orientation: 6 }).toBuffer();
}

export function truncate(image: Buffer, keep = 0.6): Buffer {
  return image.subarray(0, Math.floor(image.length * keep));
}

/** 30 MB that start like a PNG: the size check must refuse it before reading it. */
export function hugeFakePng(bytes = 30 * 1024 * 1024): Buffer {
  const b = Buffer.alloc(bytes, 0x41);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b);
  return b;
}

export async function dimensions(image: Buffer): Promise<{ width: number; height: number; format: string }> {
  const m = await sharp(image).metadata();
  return { width: m.width ?? 0, height: m.height ?? 0, format: m.format ?? '' };
}
