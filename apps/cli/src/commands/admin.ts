import { Command } from "commander";
import { createOrganizer, EmailTakenError, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "@holdout/db";
import { UsageError, withOrganizerDb } from "../organizer-db.ts";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function adminCommand(): Command {
  const admin = new Command("admin").description("manage organizer accounts (run on the server)");
  admin
    .command("create")
    .description("create an organizer account; the password is read from stdin, never from argv")
    .requiredOption("--email <email>", "the organizer's email (their login)")
    .requiredOption("--password-stdin", "read the password from standard input (first line)")
    .option("--json", "print {id, email, role} as JSON")
    .action(async (opts: { email: string; json?: boolean }) => {
      const email = opts.email.trim();
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new UsageError("--email must be an email address");
      // Only the first line: `echo pw | holdout admin create` must not keep the newline.
      const password = (await readStdin()).split(/\r?\n/)[0] ?? "";
      if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
        throw new UsageError(
          `the password on stdin must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
        );
      }
      await withOrganizerDb(
        async (db) => {
          const account = await createOrganizer(db, { email, password });
          if (opts.json) console.log(JSON.stringify(account));
          else console.log(`organizer ${account.email} created (id ${account.id})`);
        },
        [EmailTakenError],
      );
    });
  return admin;
}
