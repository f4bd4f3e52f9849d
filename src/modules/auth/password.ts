/**
 * The form a password is hashed and compared in: Unicode NFC (RFC 8265's OpaqueString profile).
 * One password typed on two keyboards may arrive as different code points (`é` as U+00E9 from one,
 * `e` + combining U+0301 from another, or pasted from a password manager): as typed, argon2 saw two
 * passwords, and a caregiver who registered on one phone got 401 on the other. Not NFKC: that would
 * also merge characters that look different (`ﬁ` and `fi`, `²` and `2`).
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFC');
}
