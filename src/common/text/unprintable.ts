/**
 * What a terminal, a log viewer or a mail header acts on instead of showing: C0 and C1 controls and
 * DEL (a line break, a carriage return, ESC and CSI starting a command), and what reorders the text
 * shown around it (line and paragraph separators, bidi embeddings, overrides and isolates).
 * One definition for the two uses: the admin CLI escapes these characters in what users wrote
 * (printable), and an email may not contain them at all (emailCharacterProblem).
 */
export const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
