/// <reference types="vite/client" />
import type { EarmarkBridge } from '../../src-main/core/contract';

declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  // Vue's own typing of an SFC's default export.
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

declare global {
  interface Window {
    /** Present in the Electron app (from the preload script); absent in web mode. */
    earmark?: EarmarkBridge;
  }
}
