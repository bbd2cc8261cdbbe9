/** A request named something that does not exist (a track, a batch, a model): HTTP 404 in web mode. */
export class NotFoundError extends Error {
  readonly code = 'not-found';
}
