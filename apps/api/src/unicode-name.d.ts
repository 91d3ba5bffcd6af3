// unicode-name ships no type declarations: the one function used here (the package's README).
declare module "unicode-name" {
  /** The character's name (or alias, or a label such as `<private-use-E000>`); undefined if none. */
  export function unicodeName(char: string | number): string | undefined;
}
