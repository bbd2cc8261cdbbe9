import type { ApiMethod, ApiRequest, ApiResponse } from '../../../src-main/core/contract';
import { createTransport, type Transport } from './transport';

export { ApiError } from './transport';

let transport: Transport | null = null;
function t(): Transport {
  transport ??= createTransport();
  return transport;
}

const call =
  <M extends ApiMethod>(m: M) =>
  (req: ApiRequest<M>): Promise<ApiResponse<M>> =>
    t().call(m, req);

/** The renderer's one way to the backend: stores and views use this, never `window.*`. */
export const api = {
  get transport(): 'ipc' | 'http' {
    return t().kind;
  },
  info: () => t().call('info', {}),
  addFolder: call('addFolder'),
  removeFolder: call('removeFolder'),
  queryTracks: call('queryTracks'),
  facets: call('facets'),
  track: call('track'),
  similar: call('similar'),
  startScan: () => t().call('startScan', {}),
  startAnalyze: call('startAnalyze'),
  cancelJob: call('cancelJob'),
  jobs: () => t().call('jobs', {}),
  map: call('map'),
  errors: () => t().call('errors', {}),
  settings: () => t().call('settings', {}),
  updateSettings: call('updateSettings'),
  startPredict: call('startPredict'),
  reviewSummary: () => t().call('reviewSummary', {}),
  proposals: call('proposals'),
  review: call('review'),
  evalTags: call('evalTags'),
  startWriteTags: call('startWriteTags'),
  tagBatches: () => t().call('tagBatches', {}),
  undoTags: call('undoTags'),
  compute: () => t().call('compute', {}),
  models: () => t().call('models', {}),
  lossCurve: call('lossCurve'),
  startTrain: call('startTrain'),
  startEmbed: call('startEmbed'),
  deleteModel: call('deleteModel'),
  publishedModels: () => t().call('publishedModels', {}),
  importModel: call('importModel'),
  startCompare: call('startCompare'),
  comparison: () => t().call('comparison', {}),
  onEvent: (...a: Parameters<Transport['onEvent']>) => t().onEvent(...a),
  mediaUrl: (path: string) => t().mediaUrl(path),
  fileQuery: (file: File) => t().fileQuery(file),
  get canPickFolder(): boolean {
    return t().pickFolder !== null;
  },
  pickFolder: () => t().pickFolder?.() ?? Promise.resolve(null),
};
