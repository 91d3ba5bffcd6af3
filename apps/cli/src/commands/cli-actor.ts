import os from "node:os";

/** Who acts from the server's command line, as the audit log names it. */
export function cliActor(): string {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry for this uid (a container's arbitrary user): the uid still names it
    user = `uid ${process.getuid?.() ?? "?"}`;
  }
  return `cli:${user}@${os.hostname()}`;
}
