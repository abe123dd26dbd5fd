/** k6's console (the k6 types leave it to lib "dom", which would also admit fetch, document… that k6 lacks). */
declare const console: {
  log(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
};
