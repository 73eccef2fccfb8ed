/** The styles wanx-sketch-to-image-lite accepts (dashscope.md §1). */
export const STYLES = [
  '<auto>',
  '<3d cartoon>',
  '<anime>',
  '<oil painting>',
  '<watercolor>',
  '<sketch>',
  '<chinese painting>',
  '<flat illustration>',
] as const;

export type Style = (typeof STYLES)[number];

/** SPEC §2: also accepted without the angle brackets and in any case ('Watercolor'). */
export function normalizeStyle(input: string): Style | undefined {
  const bare = input.trim().replace(/^<(.*)>$/, '$1').trim().toLowerCase().replace(/\s+/g, ' ');
  const style = `<${bare}>`;
  return (STYLES as readonly string[]).includes(style) ? (style as Style) : undefined;
}
