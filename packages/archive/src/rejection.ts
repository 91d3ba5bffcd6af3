/**
 * Why an archive is refused: the sender's fault, never ours. `code` is short, machine-readable and
 * stable (tests and organizers match on it); `sentence` says what is wrong, where, and how to fix it.
 */
export class ArchiveRejection extends Error {
  override readonly name = "ArchiveRejection";

  constructor(
    readonly code: RejectionCode,
    readonly sentence: string,
    options?: ErrorOptions,
  ) {
    super(sentence, options);
  }
}

/** Every reason an archive is refused. Kept closed so a new refusal is a deliberate change. */
export type RejectionCode =
  | "not_tar"
  | "not_gzip"
  | "unsupported_compression"
  | "too_large"
  | "too_many_entries"
  | "compression_ratio"
  | "bad_header"
  | "ambiguous_header"
  | "pax_key"
  | "pax_global"
  | "gnu_sparse"
  | "gnu_long_name"
  | "entry_type"
  | "unsafe_path"
  | "link_escape"
  | "write_through_symlink"
  | "duplicate_entry"
  | "unexpected_member"
  | "too_many_layers"
  | "oci_layout";
