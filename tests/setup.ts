/** Shared test set-up: every suite runs on the backend CI uses (wasm unless XP_BACKEND says otherwise). */
import { requestedBackend, selectBackend } from '../framework/backend.js';

export const backendReady = selectBackend(requestedBackend());
