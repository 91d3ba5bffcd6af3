// The catalogue of every problem code the API and the worker's ops server answer with: what each
// means and what to do about it. The API's reference page (/docs) lists it, one anchor per code,
// and every problem's `type` points at its entry, so a client that meets a code can look it up.

export interface ProblemEntry {
  code: `HOLDOUT_ERR_${string}`;
  /** The HTTP status it is sent with. */
  status: number;
  /** What it means, and what to do, in a sentence or two. */
  meaning: string;
}

export const PROBLEMS: readonly ProblemEntry[] = [
  // Who is asking
  {
    code: "HOLDOUT_ERR_UNAUTHORIZED",
    status: 401,
    meaning:
      'No valid credentials. Send `Authorization: Bearer <token>` with a live API token, or sign in on the web. The `WWW-Authenticate: Bearer` header says `error="invalid_token"` when the token sent is unknown, revoked or malformed.',
  },
  {
    code: "HOLDOUT_ERR_INVALID_CREDENTIALS",
    status: 401,
    meaning: "The email and password do not match an account. Nothing says which of the two is wrong.",
  },
  {
    code: "HOLDOUT_ERR_FORBIDDEN",
    status: 403,
    meaning:
      "You are signed in, but this is not yours to do: organizer endpoints refuse teams, submitting refuses organizer accounts, and the web refuses form posts from other sites.",
  },
  {
    code: "HOLDOUT_ERR_TEAM_NOT_APPROVED",
    status: 403,
    meaning: "The competition approves teams before they submit, and yours is not approved yet.",
  },
  {
    code: "HOLDOUT_ERR_REGISTRATION_CLOSED",
    status: 403,
    meaning: "The organizers have closed registration; no new team can be created.",
  },
  {
    code: "HOLDOUT_ERR_TERMS_NOT_ACCEPTED",
    status: 400,
    meaning: "Registering needs `acceptTerms: true`: accepting the competition's data-use terms.",
  },
  // What is asked for
  {
    code: "HOLDOUT_ERR_NOT_FOUND",
    status: 404,
    meaning:
      "No such submission, team, token or upload. Another team's private submission answers the same, exactly as if it did not exist.",
  },
  {
    code: "HOLDOUT_ERR_ROUTE_NOT_FOUND",
    status: 404,
    meaning: "No endpoint has this method and path; the endpoints are listed on this page.",
  },
  {
    code: "HOLDOUT_ERR_METHOD_NOT_ALLOWED",
    status: 405,
    meaning: "The path exists, but not for this method; the `Allow` header lists the methods it answers.",
  },
  {
    code: "HOLDOUT_ERR_TEAM_NAME_TAKEN",
    status: 409,
    meaning:
      "Another team of the competition already has this name, or one that reads the same: names are compared ignoring case, character width (full-width letters), spacing and invisible characters. Choose another.",
  },
  {
    code: "HOLDOUT_ERR_EMAIL_TAKEN",
    status: 409,
    meaning:
      "This email already belongs to a team of the competition (one team per person) or to an organizer account; sign in with it, or register another address.",
  },
  {
    code: "HOLDOUT_ERR_TOO_MANY_TOKENS",
    status: 409,
    meaning:
      "Your team already holds as many live API tokens as the competition allows (default 10). Revoke one you no longer use (`DELETE /api/v1/tokens/<id>`), then ask again.",
  },
  {
    code: "HOLDOUT_ERR_TOO_MANY_WEBHOOKS",
    status: 409,
    meaning:
      "Your team already has as many webhooks as it may (5). Remove one (`DELETE /api/v1/team/webhooks/<id>`), then add the new one.",
  },
  {
    code: "HOLDOUT_ERR_WEBHOOK_REFUSED",
    status: 400,
    meaning:
      "The webhook's URL is not one Holdout will call: not http(s), carrying credentials, not resolving, or resolving to a loopback, private, link-local or reserved address (the server's own network). Use a public address.",
  },
  {
    code: "HOLDOUT_ERR_ALREADY_FINAL",
    status: 409,
    meaning: "The submission has already ended (scored, failed or cancelled), so it cannot be cancelled.",
  },
  {
    code: "HOLDOUT_ERR_NO_OPEN_PHASE",
    status: 409,
    meaning:
      "No phase of the competition is open now: uploads are taken only during a phase. The detail says when the next one opens, if one is to come.",
  },
  {
    code: "HOLDOUT_ERR_COMPETITION_CLOSED",
    status: 409,
    meaning:
      "The competition has closed: it takes no more uploads (new or resumed) and no changes to final choices. Its leaderboard and published curves stay readable.",
  },
  {
    code: "HOLDOUT_ERR_ALREADY_CLOSED",
    status: 409,
    meaning: "The competition is already closed; closing is done once and cannot be undone.",
  },
  {
    code: "HOLDOUT_ERR_CONFIRMATION_REQUIRED",
    status: 400,
    meaning:
      "Closing a competition cannot be undone: send `confirm` with the competition's slug to show it is meant.",
  },
  {
    code: "HOLDOUT_ERR_SETTING_LOCKED",
    status: 409,
    meaning:
      "This setting can no longer change: the public/private split is fixed once a submission has been scored, and the split and ladder once the competition has closed.",
  },
  {
    code: "HOLDOUT_ERR_FINAL_SELECTION",
    status: 409,
    meaning:
      "The final choice cannot be made: only a competition with a public/private split has finals, a team picks at most two, and only among its scored entries that are not disqualified or withheld by the ladder.",
  },
  {
    code: "HOLDOUT_ERR_CURVES_NOT_PUBLISHED",
    status: 403,
    meaning:
      "Hidden-set ROC and precision-recall curves are published when the competition closes: while it is open, their vertices would let anyone rebuild the hidden labels.",
  },
  {
    code: "HOLDOUT_ERR_NOT_RESCORABLE",
    status: 409,
    meaning: "Only a scored submission with stored predictions can be re-scored.",
  },
  // The request's form
  {
    code: "HOLDOUT_ERR_VALIDATION",
    status: 400,
    meaning:
      "The request does not match the endpoint's schema. `errors` names each field that is wrong, as you sent it.",
  },
  {
    code: "HOLDOUT_ERR_INVALID_FIELD",
    status: 400,
    meaning: "A field's value is not acceptable. `errors` names each field and says what is wrong with it.",
  },
  {
    code: "HOLDOUT_ERR_INVALID_BODY",
    status: 400,
    meaning: "The body is empty or is not valid JSON, though its Content-Type says JSON.",
  },
  {
    code: "HOLDOUT_ERR_UNSUPPORTED_MEDIA_TYPE",
    status: 415,
    meaning:
      "The endpoint does not take a body of this Content-Type: JSON endpoints take `application/json`, uploads `multipart/form-data` or (tus) `application/offset+octet-stream`, and the web's forms their form encodings.",
  },
  {
    code: "HOLDOUT_ERR_BODY_TOO_LARGE",
    status: 413,
    meaning: "A JSON body is over the size limit; only uploads may be large.",
  },
  {
    code: "HOLDOUT_ERR_HEADERS_TOO_LARGE",
    status: 431,
    meaning:
      "The request's headers (with its request line) are over the server's limit, 16 KiB in all; usually an oversized cookie or a header repeated by a proxy.",
  },
  {
    code: "HOLDOUT_ERR_URI_TOO_LONG",
    status: 414,
    meaning: "A path segment (an id) is far longer than any the API uses.",
  },
  {
    code: "HOLDOUT_ERR_REQUEST_TIMEOUT",
    status: 408,
    meaning: "The request did not arrive in full in time; the connection is closed. Send it again.",
  },
  {
    code: "HOLDOUT_ERR_BAD_REQUEST",
    status: 400,
    meaning: "The request is malformed in a way no other code covers; `detail` says how.",
  },
  // Uploads
  {
    code: "HOLDOUT_ERR_NOT_MULTIPART",
    status: 415,
    meaning:
      "Submissions are sent as `multipart/form-data` (`curl -F model=… -F image=@model.tar`), or as a resumable upload.",
  },
  {
    code: "HOLDOUT_ERR_MALFORMED_MULTIPART",
    status: 400,
    meaning: "The multipart body is broken (a bad boundary, or it ended early); send it again.",
  },
  {
    code: "HOLDOUT_ERR_MISSING_FILE",
    status: 400,
    meaning:
      "No file arrived: send the model as `image` (a `docker save` tarball) or `bundle` (a code bundle), with `@` before the path in curl, and the text fields before the file.",
  },
  {
    code: "HOLDOUT_ERR_WRONG_FILE_FIELD",
    status: 400,
    meaning: "A file arrived under another name than `image` or `bundle`.",
  },
  {
    code: "HOLDOUT_ERR_TOO_MANY_FILES",
    status: 400,
    meaning: "A submission carries exactly one file.",
  },
  {
    code: "HOLDOUT_ERR_TOO_MANY_FIELDS",
    status: 400,
    meaning: "The form has more fields than any submission needs.",
  },
  {
    code: "HOLDOUT_ERR_TOO_MANY_PARTS",
    status: 400,
    meaning: "The multipart body has more parts than any submission needs.",
  },
  {
    code: "HOLDOUT_ERR_UPLOAD_TOO_LARGE",
    status: 413,
    meaning:
      "The file is over the competition's size limit. Nothing was kept and the quota slot is given back.",
  },
  {
    code: "HOLDOUT_ERR_UPLOAD_NOT_TAR",
    status: 415,
    meaning:
      "The `image` file is neither a tar archive nor a gzip stream. Send the output of `docker save` (gzipped or not); a code bundle goes in `bundle`.",
  },
  {
    code: "HOLDOUT_ERR_UPLOAD_EXPIRED",
    status: 409,
    meaning: "The upload took longer than its quota slot is held; nothing was charged, so send it again.",
  },
  {
    code: "HOLDOUT_ERR_LAYER_DIGEST_MISMATCH",
    status: 400,
    meaning:
      "A layered upload's layer was sent under a digest its bytes do not have: the server computes the SHA-256 of the uncompressed layer tar itself, and keeps nothing that does not match. Send each layer under its own digest (the image config's `rootfs.diff_ids`).",
  },
  {
    code: "HOLDOUT_ERR_LAYER_INVALID",
    status: 400,
    meaning:
      "A layer sent for a layered upload is not a plain tar or valid gzip, or expands like a gzip bomb. Nothing was kept.",
  },
  {
    code: "HOLDOUT_ERR_LAYER_UNKNOWN",
    status: 409,
    meaning:
      "A layered submission names layers your team's layer store does not hold (never sent, or removed after the retention period or to make room). Send them (`PUT /api/v1/layers/{digest}`) and submit again; nothing was charged. `holdout submit --image` does this itself.",
  },
  {
    code: "HOLDOUT_ERR_UPLOAD_OFFSET_MISMATCH",
    status: 409,
    meaning:
      "A resumable upload's chunk was sent at another offset than the server has; ask for the offset (HEAD) and resume from there.",
  },
  {
    code: "HOLDOUT_ERR_UPLOAD_PROTOCOL",
    status: 400,
    meaning:
      "A resumable upload request breaks the tus 1.0 protocol (a missing or wrong header); `detail` names it. Sent with the status tus prescribes.",
  },
  {
    code: "HOLDOUT_ERR_TUS_VERSION",
    status: 412,
    meaning:
      "A resumable upload request without `Tus-Resumable: 1.0.0`: the server speaks tus 1.0.0 only, as its `Tus-Version` header says.",
  },
  {
    code: "HOLDOUT_ERR_BUNDLE_NOT_ARCHIVE",
    status: 415,
    meaning: "The `bundle` file is not a zip or a tar.gz archive.",
  },
  {
    code: "HOLDOUT_ERR_BUNDLE_INVALID",
    status: 400,
    meaning:
      "The code bundle cannot be unpacked safely or read (for example an entry pointing outside the bundle, or a damaged archive); `detail` names the entry.",
  },
  {
    code: "HOLDOUT_ERR_BUNDLE_TOO_LARGE",
    status: 413,
    meaning: "The code bundle unpacks to more bytes than the competition allows.",
  },
  // Limits
  {
    code: "HOLDOUT_ERR_QUOTA_EXCEEDED",
    status: 429,
    meaning:
      "Your team has used its submissions for the rolling window. `Retry-After` and `retryAt` say when the next slot opens.",
  },
  {
    code: "HOLDOUT_ERR_QUOTA_EXHAUSTED",
    status: 429,
    meaning:
      "Your team has used every submission this competition allows. Infrastructure failures and failed smoke runs are never counted.",
  },
  {
    code: "HOLDOUT_ERR_RATE_LIMITED",
    status: 429,
    meaning:
      "Too many requests from this address, or with your team's tokens and sessions together; `Retry-After` says when to come back.",
  },
  {
    code: "HOLDOUT_ERR_TOO_MANY_STREAMS",
    status: 429,
    meaning:
      "Too many event streams are open at once for your team or from your address. Close one (a browser tab following a submission holds one), or poll `GET /api/v1/submissions/<id>`; `Retry-After` says when to try again.",
  },
  // The server's side
  {
    code: "HOLDOUT_ERR_UNAVAILABLE",
    status: 503,
    meaning:
      "A service the request needs (the database or the job queue) is down; nothing was charged. Retry.",
  },
  {
    code: "HOLDOUT_ERR_NOT_READY",
    status: 503,
    meaning: "The readiness probe: a dependency (PostgreSQL, Redis or the Docker engine) cannot be reached.",
  },
  {
    code: "HOLDOUT_ERR_INTERNAL",
    status: 500,
    meaning: "Our fault. Quote the request id from `detail` or the `X-Request-ID` header when you report it.",
  },
];

const BY_CODE = new Map<string, ProblemEntry>(PROBLEMS.map((p) => [p.code, p]));

export function problemEntry(code: string): ProblemEntry | undefined {
  return BY_CODE.get(code);
}

/** The anchor of a code's entry on the reference page. */
export function problemAnchor(code: string): string {
  return `problem-${code.toLowerCase()}`;
}

/** A problem's `type`: its entry on the API's reference page (RFC 9457 §3.1.1). */
export function problemType(code: string): string {
  return `/docs#${problemAnchor(code)}`;
}

/** The `title` of a problem: the status's reason phrase. */
export const STATUS_TITLES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};
