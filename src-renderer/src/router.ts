import { createRouter, createWebHashHistory } from 'vue-router';
import LibraryView from './views/LibraryView.vue';

// Hash history: the same URLs work from Electron's file:// page and from the web server.
export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', name: 'library', component: LibraryView },
    { path: '/similar', name: 'similar', component: () => import('./views/SimilarView.vue') },
    { path: '/track/:id(\\d+)', name: 'track', component: () => import('./views/TrackView.vue'), props: (r) => ({ id: Number(r.params.id) }) },
    { path: '/map', name: 'map', component: () => import('./views/MapView.vue') },
    { path: '/tags', name: 'tags', component: () => import('./views/ReviewView.vue') },
    { path: '/models', name: 'models', component: () => import('./views/ModelsView.vue') },
    { path: '/status', name: 'status', component: () => import('./views/StatusView.vue') },
  ],
});
