import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { Mailer, type OutgoingMail } from '../../common/mail/mailer.js';
import { authConfig, mailConfig } from '../../config/configuration.js';
import { resetLink } from '../../config/mail-settings.js';
import { AuthErrors } from './auth.errors.js';
import { AuthService } from './auth.service.js';
import { BackgroundTasks } from './background-tasks.js';
import type { ResetPasswordDto } from './dto/auth.dto.js';
import { AuthResponse, ForgotPasswordResponse, humanDuration } from './dto/auth.response.js';
import { normalizeEmail } from './email.js';
import { PasswordResetTokenRepository } from './password-reset-token.repository.js';
import { PasswordService } from './password.service.js';
import { emailKey } from './rate-limit.guard.js';
import { AuthRateLimitRepository } from './rate-limit.repository.js';

/** 32 random bytes: 43 base64url characters, what the link carries. */
const TOKEN_BYTES = 32;
const RESET_TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** Emails one account, and one address across its accounts, can be sent in an hour, whoever asks (the rate limits alone allow one every few seconds). */
export const MAX_RESET_EMAILS_PER_HOUR = 5;
const HOUR_SECONDS = 3600;
/** Requests being handled at once per instance; more are dropped (with a warning) rather than queued without bound. */
const MAX_PENDING_REQUESTS = 100;
/** Expired rows deleted per request, at most. */
const SWEEP_BATCH = 100;
/** How long shutdown waits for emails still being sent (the SMTP timeouts bound each). */
const SHUTDOWN_WAIT_MS = 10_000;

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * Password reset by email: POST /auth/forgot-password emails a single-use link, POST
 * /auth/reset-password takes its token and a new password. The password is then replaced by
 * AuthService, on the path of every reset and change (replacePassword: every sign-in ends), with a
 * new sign-in for the caller.
 *
 * forgot-password answers before it looks anything up: the account, the token and the email are
 * handled afterwards, in the background, so neither the answer nor its timing says whether an account
 * has the email.
 */
@Injectable()
export class PasswordResetService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(PasswordResetService.name);
  private warnedUnavailable = false;
  private readonly requests = new BackgroundTasks(MAX_PENDING_REQUESTS, (error) =>
    this.logger.error({ err: error }, 'password reset request failed; no email was sent'),
  );

  constructor(
    private readonly tokens: PasswordResetTokenRepository,
    private readonly limits: AuthRateLimitRepository,
    private readonly auth: AuthService,
    private readonly passwords: PasswordService,
    private readonly mailer: Mailer,
    @Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>,
    @Inject(mailConfig.KEY) private readonly mail: ConfigType<typeof mailConfig>,
  ) {}

  /** POST /auth/forgot-password: the same answer for every email; the work is done after it. */
  requestReset(email: string): ForgotPasswordResponse {
    const { url, ttlSeconds } = this.config.passwordReset;
    if (this.mail.transport === 'off' || !url) {
      if (!this.warnedUnavailable) {
        this.warnedUnavailable = true;
        this.logger.warn('forgot-password answers 503 PASSWORD_RESET_UNAVAILABLE: SMTP_URL is not set (see DEPLOYMENT.md); said once');
      }
      throw AuthErrors.passwordResetUnavailable();
    }
    const normalized = normalizeEmail(email);
    if (!this.requests.run(() => this.emailLink(normalized, url, ttlSeconds))) {
      this.logger.warn(`${MAX_PENDING_REQUESTS} password reset requests in progress; one more was dropped (no email sent)`);
    }
    return ForgotPasswordResponse.of(ttlSeconds);
  }

  /**
   * POST /auth/reset-password: the token's user gets the new password and a new sign-in; the token
   * is used in the same transaction. Unknown, expired, used or revoked: 401 INVALID_RESET_TOKEN.
   */
  async reset(dto: ResetPasswordDto): Promise<AuthResponse> {
    if (!RESET_TOKEN.test(dto.token)) throw AuthErrors.invalidResetToken();
    const tokenHash = sha256(dto.token);
    // Checked before hashing the new password (argon2id takes a while), and again, under the user's
    // lock, by `claim`: of two requests with one token, the second finds it used there.
    const userId = await this.tokens.findUsable(tokenHash);
    if (!userId) throw AuthErrors.invalidResetToken();
    const passwordHash = await this.passwords.hash(dto.new_password);
    const signedIn = await this.auth.resetPasswordByToken(userId, passwordHash, (manager) => this.tokens.claim(manager, tokenHash, userId));
    if (!signedIn) throw AuthErrors.invalidResetToken();
    this.logger.log({ userId }, 'password reset by emailed link; every earlier sign-in ended');
    return signedIn;
  }

  /** Resolves once the requests accepted so far are handled (their emails sent or failed). */
  idle(): Promise<void> {
    return this.requests.idle();
  }

  /** Emails in flight are sent before the database pool closes (within SHUTDOWN_WAIT_MS). */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.requests.size) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), SHUTDOWN_WAIT_MS)));
    const outcome = await Promise.race([this.requests.idle(), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.logger.warn(`${this.requests.size} password reset emails still unsent at shutdown`);
  }

  /** In the background: the token and the email, if an account has the address. Nothing is logged for an unknown one. */
  private async emailLink(email: string, url: string, ttlSeconds: number): Promise<void> {
    await this.tokens.sweep(SWEEP_BATCH).catch((error: Error) => this.logger.warn(`password reset token sweep failed: ${error.message}`));
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const account = await this.tokens.issue(email, sha256(token), ttlSeconds, MAX_RESET_EMAILS_PER_HOUR, (manager) => this.addressAllows(email, manager));
    if (!account) return;
    if (!account.issued) {
      this.logger.warn({ userId: account.userId }, `${MAX_RESET_EMAILS_PER_HOUR} password reset emails sent to this address in the last hour; no more until it has passed`);
      return;
    }
    try {
      await this.mailer.send(resetEmail(account.email, resetLink(url, token), ttlSeconds));
    } catch (error) {
      // The token stays: nobody has it, and it expires.
      this.logger.error({ userId: account.userId, cause: mailFailure(error) }, 'password reset email could not be sent');
      return;
    }
    this.logger.log({ userId: account.userId }, 'password reset email sent');
  }

  /**
   * The hourly cap counted per address too, and taken only for an address that has an account: the
   * account's own tokens go with it, so deleting the account and registering the address again (no
   * email is verified at registration) started its count afresh (found by review: one email a few
   * seconds to any address nobody had registered). Counted in `auth_rate_limits` (key: the email's
   * hash), which outlives accounts, in fixed one-hour windows, in the caller's transaction.
   */
  private async addressAllows(email: string, manager: EntityManager): Promise<boolean> {
    const taken = await this.limits.take([{ key: `reset-emails|${emailKey(email)}`, max: MAX_RESET_EMAILS_PER_HOUR }], HOUR_SECONDS, manager);
    return taken.counted;
  }
}

/** The email: the link, what it does, how long it works, and what to do if it was not you. */
function resetEmail(to: string, link: string, ttlSeconds: number): OutgoingMail {
  const lasts = humanDuration(ttlSeconds);
  const text = [
    'Someone (we hope you) asked to reset the password of your HemoDay account.',
    '',
    'To choose a new password, open this link on the phone where the HemoDay app is installed:',
    '',
    link,
    '',
    `The link works once, for ${lasts}. Every device signed in to your account will be signed out; sign in again with the new password.`,
    '',
    'If you did not ask for this, ignore this email: your password stays as it is.',
  ].join('\n');
  const href = escapeHtml(link);
  const html = [
    '<p>Someone (we hope you) asked to reset the password of your HemoDay account.</p>',
    '<p>To choose a new password, open this link on the phone where the HemoDay app is installed:</p>',
    `<p><a href="${href}">Reset my password</a></p>`,
    `<p>The link works once, for ${lasts}. Every device signed in to your account will be signed out; sign in again with the new password.</p>`,
    '<p>If you did not ask for this, ignore this email: your password stays as it is.</p>',
  ].join('\n');
  return { to, subject: 'Reset your HemoDay password', text, html };
}

/**
 * What an operator needs of a failed send, without the address: nodemailer's errors carry the
 * recipients (`rejected`, `envelope`) and the server's reply, which often quotes the address.
 */
/**
 * An email address in a mail server's reply: a local part, plain (`o'brien`, `a.b+tag`) or quoted
 * (`"john smith"`), an @, a domain. Found by review: a quoted local part, and the part before an
 * apostrophe, were left in the log.
 */
const ADDRESS_IN_TEXT = /(?:"[^"\r\n]*"|[^\s<>@",;:]+)@[^\s<>@"',;:]+/g;

export function mailFailure(error: unknown): Record<string, unknown> {
  const e = (error ?? {}) as { code?: unknown; responseCode?: unknown; command?: unknown; message?: unknown };
  return {
    code: e.code,
    responseCode: e.responseCode,
    command: e.command,
    message: String(e.message ?? error).replace(ADDRESS_IN_TEXT, '[address]'),
  };
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
