import { Command, CommandRunner, Option } from 'nest-commander';
import { PASSWORD_ARGUMENT_WARNING, PASSWORD_STDIN_DESCRIPTION, readPassword, type PasswordOptions } from '../account-input.js';
import { parseIntegerOption } from '../integer-option.js';
import { COMMAND_STOP_SIGNALS } from '../../database/command-exit.js';
import { CliDatabaseService } from '../cli-database.service.js';
import { assertNoArguments } from '../cli-error.js';
import { launchedNodeEnv } from '../launch-env.js';
import { Progress } from '../progress.js';
import { DEMO_MAX_MONTHS, SEEDED_TABLES } from '../seed/demo-history.js';
import { SeedResetService, type ResetResult } from '../seed/seed-reset.service.js';
import { assertResetAllowed, DEFAULT_SEED_PASSWORD, seedEmails } from '../seed/seed-options.js';
import { SeederService, type SeededFamily } from '../seed/seeder.service.js';

const DEFAULT_SEED_EMAIL = 'demo@hemoday.example';
type StopCause = 'stopped on an error' | 'interrupted';
/** Families seeded side by side (argon2 hashing dominates; it runs on libuv's 4 threads). */
const CONCURRENCY = 4;

interface SeedOptions extends PasswordOptions {
  email: string;
  families: number;
  months: number;
  reset?: boolean;
}

@Command({
  name: 'seed',
  description: 'Create a demo family (user, patient, months of medical history); safe to re-run',
})
export class SeedCommand extends CommandRunner {
  constructor(
    private readonly database: CliDatabaseService,
    private readonly seeder: SeederService,
    private readonly resetter: SeedResetService,
  ) {
    super();
  }

  async run(args: string[], options: SeedOptions): Promise<void> {
    // Every option is checked before anything connects or deletes: a bad one never touches the database.
    assertNoArguments('seed', args);
    // NODE_ENV as given to the process (or its .env), not the configuration's development default.
    const rawNodeEnv = launchedNodeEnv();
    if (options.reset) assertResetAllowed(rawNodeEnv);
    const emails = seedEmails(options.email, options.families);
    const { password } = this.seeder.validateOptions(emails, await readPassword(options));
    await this.database.connect();
    if (options.reset) this.reportReset(await this.resetter.reset(emails, rawNodeEnv));

    // Accounts this run made, in the emails' order: after a failure they stay (a re-run finishes their
    // history and leaves their password alone), so the password they were made with must still be told.
    const created: boolean[] = new Array(emails.length).fill(false);
    // Those already told on stdout: a signal tells the ones made so far at once (found by review: Ctrl-C
    // or a SIGTERM ended the run with nothing said of them), a failure after it only any made since.
    const told = new Set<number>();
    const tellCreated = (why: StopCause) => {
      const fresh = emails.flatMap((_, i) => (created[i] && !told.has(i) ? [i] : []));
      for (const i of fresh) told.add(i);
      this.reportCreatedBeforeStop(fresh.map((i) => emails[i]), password, why);
    };
    // Runs after exitCommandOnSignals' listener (registered at start-up), whose exit waits for the
    // embedded database to stop: this is said before the process ends.
    const onSignal = () => tellCreated('interrupted');
    for (const signal of COMMAND_STOP_SIGNALS) process.on(signal, onSignal);
    try {
      await this.seedAll(emails, password, options, created, tellCreated);
    } finally {
      for (const signal of COMMAND_STOP_SIGNALS) process.off(signal, onSignal);
    }
  }

  private async seedAll(emails: string[], password: string, options: SeedOptions, created: boolean[], tellCreated: (why: StopCause) => void): Promise<void> {
    const started = Date.now();
    const progress = new Progress(emails.length, 'seed');
    const results: SeededFamily[] = new Array(emails.length);
    let next = 0;
    let failed = false;
    const worker = async () => {
      // After a failure the other workers finish their family and stop, before the app (and its pool) closes.
      for (let i = next++; i < emails.length && !failed; i = next++) {
        results[i] = await this.seeder.seedFamily(emails[i], password, options.months, { onAccountCreated: () => (created[i] = true) });
        progress.complete(i, `${results[i].email}: ${count(total(results[i]), 'new record')}`);
      }
    };
    const guarded = () =>
      worker().catch((error: unknown) => {
        failed = true;
        throw error;
      });
    const outcomes = await Promise.allSettled(Array.from({ length: Math.min(CONCURRENCY, emails.length) }, guarded));
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) {
      progress.interrupt();
      tellCreated('stopped on an error');
      throw failure.reason;
    }
    this.report(results, { ...options, password }, Date.now() - started);
  }

  private reportReset(removed: ResetResult): void {
    const members = removed.membersRemoved ? `; ${removed.membersRemoved} other member(s) removed from them and signed out` : '';
    console.log(`Reset: deleted ${removed.users} user(s) and ${removed.families} family(ies)${members}.`);
    if (removed.filesLeft) console.log(`  ${removed.filesLeft} stored file(s) of those families could not be deleted (see the warnings above).`);
  }

  /**
   * On stdout, the error's one line going to stderr: found by review, a run that failed after making
   * its account printed nothing of it, and the re-run that finished it said "(unchanged: the account
   * already existed)" — with `--password-stdin` from `openssl rand`, nobody ever saw the password.
   */
  private reportCreatedBeforeStop(emails: string[], password: string, why: StopCause): void {
    if (!emails.length) return;
    console.log(`Seed ${why}; ${count(emails.length, 'demo account was', 'demo accounts were')} created before it, with this password (run seed again to finish their history; it leaves the password alone):`);
    const shown = emails.length > 10 ? [emails[0], emails[1], emails[emails.length - 1]] : emails;
    for (const email of shown) console.log(`  email:       ${email}`);
    if (shown.length < emails.length) console.log(`  (${emails.length - shown.length} more)`);
    console.log(`  password:    ${password}`);
  }

  private report(results: SeededFamily[], options: SeedOptions & { password: string }, ms: number): void {
    const written = SEEDED_TABLES.map((t) => `${t} ${results.reduce((n, r) => n + r.written[t], 0)}`).join(', ');
    const records = results.reduce((n, r) => n + total(r), 0);
    console.log(
      records
        ? `Seeded ${count(results.length, 'family', 'families')} with ${count(options.months, 'month')} of history in ${(ms / 1000).toFixed(1)} s: ${written}.`
        : `Nothing to add: the ${count(results.length, 'seeded family', 'seeded families')} already ${results.length === 1 ? 'holds' : 'hold'} this history.`,
    );
    const shown = results.length > 10 ? [results[0], results[1], results[results.length - 1]] : results;
    for (const r of shown) {
      console.log(`  email:       ${r.email}`);
      console.log(`  password:    ${r.userCreated ? options.password : '(unchanged: the account already existed)'}`);
      console.log(`  invite code: ${r.inviteCode}`);
      if (r !== shown[shown.length - 1]) console.log('');
    }
    if (shown.length < results.length) console.log(`  (${results.length - shown.length} more: ${emailPattern(options.email)}, ${hiddenPasswords(results.filter((r) => !shown.includes(r)), options.password)})`);
  }

  @Option({ flags: '--email <email>', description: `email of the demo user (numbered for --families > 1)`, defaultValue: DEFAULT_SEED_EMAIL })
  parseEmail(value: string): string {
    return value;
  }

  @Option({
    flags: '--password <password>',
    description: `password of new demo users (at least 8 characters; default ${DEFAULT_SEED_PASSWORD}, required in production: this or --password-stdin); ${PASSWORD_ARGUMENT_WARNING}`,
  })
  parsePassword(value: string): string {
    return value;
  }

  @Option({ flags: '--password-stdin', description: PASSWORD_STDIN_DESCRIPTION })
  parsePasswordStdin(): boolean {
    return true;
  }

  @Option({ flags: '--families <n>', description: 'number of demo families (load tests)', defaultValue: 1 })
  parseFamilies(value: string): number {
    return parseIntegerOption('--families', value, 1, 100_000);
  }

  @Option({ flags: '--months <m>', description: `months of history (1–${DEMO_MAX_MONTHS}: the demo patient is transfused since age 1)`, defaultValue: 24 })
  parseMonths(value: string): number {
    return parseIntegerOption('--months', value, 1, DEMO_MAX_MONTHS);
  }

  @Option({ flags: '--reset', description: 'first delete the demo accounts and families seed made with these emails (NODE_ENV=development or test only)' })
  parseReset(): boolean {
    return true;
  }
}

/** `1 month`, `24 months`, `1 family`, `3 families`. */
function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

function total(result: SeededFamily): number {
  return SEEDED_TABLES.reduce((n, t) => n + result.written[t], 0);
}

/**
 * The passwords of the accounts the summary does not list one by one. Found by review: it said "all with
 * the same password" even when some of them existed before this run and kept their own, so an operator
 * handed out a password that did not open them (`--families 3`, then `--families 12` with another one).
 */
function hiddenPasswords(hidden: SeededFamily[], password: string): string {
  const existed = hidden.filter((r) => !r.userCreated);
  const created = hidden.length - existed.length;
  if (!existed.length) return `all created with password ${password}`;
  const named = existed.slice(0, 3).map((r) => r.email).join(', ') + (existed.length > 3 ? ` and ${existed.length - 3} more` : '');
  const kept = `${count(existed.length, 'existed', 'existed')} already, password unchanged: ${named}`;
  return created ? `${created} created with password ${password}; ${kept}` : `all ${kept}`;
}

function emailPattern(email: string): string {
  const at = email.lastIndexOf('@');
  return `${email.slice(0, at)}+<n>${email.slice(at)}`;
}
