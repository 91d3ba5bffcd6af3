// Team names are unique in a competition as people read them, not byte for byte: "Team A",
// "team a", "ＴＥＡＭ Ａ" and "Team  A" are one name. The database holds each team's key next to its
// name, under a unique index, so a look-alike is refused by PostgreSQL itself, whoever inserts it.
//
// The key: NFKC (compatibility forms: full-width letters, ligatures, other spaces become their plain
// forms), full case folding (lower, upper, lower: "ẞ" ~ "ß" ~ "SS" ~ "ss", "ς" ~ "σ"), NFKC again,
// default-ignorable characters dropped (zero-width and joiners, variation selectors: whatever is not
// seen), white space runs made one space, and no space at either end.
//
// The migration that added the key computed it for existing rows with the same steps in SQL
// (prisma/migrations/20261206120000_names_emails_approval): keep the two in step.

// Unicode's Default_Ignorable_Code_Point, spelled out so the SQL twin can list the same ranges.
// Each code point in the class is matched on its own, combining or not: that is the intent.
const IGNORABLE =
  // eslint-disable-next-line no-misleading-character-class
  /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\u{E0000}-\u{E0FFF}]/gu;
/** White space left after NFKC (which makes every other space U+0020). */
const SPACES = /[\t\n\v\f\r \u0085\u1680\u2028\u2029]+/gu;

export function teamNameKey(name: string): string {
  return name
    .normalize("NFKC")
    .toLowerCase()
    .toUpperCase()
    .toLowerCase()
    .normalize("NFKC")
    .replace(IGNORABLE, "")
    .replace(SPACES, " ")
    .replace(/^ | $/g, "");
}
