import nodemailer from "nodemailer";

// E-mail through nodemailer's SMTP transport (HOLDOUT_SMTP_URL). Unset, there is no mailer and
// nothing is sent; a message that cannot be handed over throws, and its job is retried.

export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
  close(): void;
}

export function createMailer(smtpUrl: string | undefined, from: string): Mailer | null {
  if (!smtpUrl) return null;
  const transport = nodemailer.createTransport(smtpUrl);
  return {
    async send(m) {
      await transport.sendMail({ from, to: m.to, subject: m.subject, text: m.text });
    },
    close: () => transport.close(),
  };
}
