/** A status and a JSON body: what the console's API answers, often as the shop's API or an admin port answered it. */
export interface Answer {
  status: number;
  body: unknown;
}

/** A request to the console that names something it does not offer: answered 400 with this message. */
export class ConsoleInputError extends Error {}
