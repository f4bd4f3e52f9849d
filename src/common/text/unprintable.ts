/**
 * What a terminal, a log viewer or a mail header acts on instead of showing: C0 and C1 controls and
 * DEL (a line break, a carriage return, ESC and CSI starting a command), and what reorders the text
 * shown around it (line and paragraph separators, bidi embeddings, overrides and isolates).
 * One definition for the two uses: the admin CLI escapes these characters in what users wrote
 * (printable), and an email may not contain them at all (emailCharacterProblem).
 */
export const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * Unicode's default-ignorable code points: zero-width space, joiners and non-joiners, word joiner,
 * soft hyphen, left-to-right and Arabic marks, variation selectors, tag characters… A text shows
 * nothing for them. Refused in emails (emailCharacterProblem), where they made look-alike accounts,
 * and escaped where the admin CLI prints an email (printableEmail). Names and patient fields keep
 * them: a joiner is part of an emoji sequence or of a Persian word there.
 */
export const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;
