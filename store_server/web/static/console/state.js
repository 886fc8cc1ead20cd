// The console's one piece of shared mutable state: what more than one part of the page reads or
// changes. Everything else lives in the DOM or in a function's scope.
export const state = {
  socket: null, // the live Socket.IO connection while logged in (live.js)
  campaigns: [], // the store's campaigns as last loaded or saved (campaigns.js)
  zones: [], // the store's zones as last loaded (layout.js; the campaign form's zone selects)
  editing: null, // campaign id being edited, or null for a new one (campaigns.js)
  layoutLoaded: false, // the layout tab shows loaded data; not reloaded on every visit (main.js)
};
