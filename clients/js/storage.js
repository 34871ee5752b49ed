// Where unsent records wait: IndexedDB, else localStorage, else memory only.
// Every function here resolves; none rejects (failures are reported through `onError`).
// An item is { key: "<producer_id>:<seq>", record: {...} }.

const DB_VERSION = 1;
const STORE = "pending";

function idbRequest(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function idbDone(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(true);
    tx.onabort = tx.onerror = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
  });
}

/** IndexedDB storage: one object store, keyed by the record's stamp. */
export async function openIndexedDb(name) {
  const open = indexedDB.open(name, DB_VERSION);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: "key" });
  const db = await idbRequest(open);
  return {
    kind: "indexeddb",
    async put(items) {
      const tx = db.transaction(STORE, "readwrite");
      const store = tx.objectStore(STORE);
      for (const item of items) store.put({ key: item.key, record: item.record });
      return idbDone(tx);
    },
    async remove(keys) {
      const tx = db.transaction(STORE, "readwrite");
      const store = tx.objectStore(STORE);
      for (const key of keys) store.delete(key);
      return idbDone(tx);
    },
    async all() {
      const tx = db.transaction(STORE, "readonly");
      return idbRequest(tx.objectStore(STORE).getAll());
    },
  };
}

/** localStorage storage: one JSON object { key: record } (a fallback: rewritten on each change). */
export function openLocalStorage(name) {
  const slot = `${name}:pending`;
  const read = () => {
    try {
      return JSON.parse(localStorage.getItem(slot) || "{}") || {};
    } catch {
      return {};
    }
  };
  const write = (map) => localStorage.setItem(slot, JSON.stringify(map));
  return {
    kind: "localstorage",
    async put(items) {
      const map = read();
      for (const item of items) map[item.key] = item.record;
      write(map);
      return true;
    },
    async remove(keys) {
      const map = read();
      for (const key of keys) delete map[key];
      write(map);
      return true;
    },
    async all() {
      return Object.entries(read()).map(([key, record]) => ({ key, record }));
    },
  };
}

/** Memory only: what is unsent is lost on reload (used when the browser gives no storage). */
export function openMemory() {
  const map = new Map();
  return {
    kind: "memory",
    async put(items) {
      for (const item of items) map.set(item.key, item.record);
      return true;
    },
    async remove(keys) {
      for (const key of keys) map.delete(key);
      return true;
    },
    async all() {
      return [...map].map(([key, record]) => ({ key, record }));
    },
  };
}

/** The best storage this browser gives. */
export async function openStorage(name, onError) {
  if (typeof indexedDB !== "undefined") {
    try {
      return await openIndexedDb(name);
    } catch (err) {
      onError(err);
    }
  }
  try {
    if (typeof localStorage !== "undefined") {
      localStorage.setItem(`${name}:probe`, "1");
      localStorage.removeItem(`${name}:probe`);
      return openLocalStorage(name);
    }
  } catch (err) {
    onError(err);
  }
  return openMemory();
}

// The page-hide stash: a synchronous localStorage copy of what may not have reached IndexedDB
// yet (its transactions may not finish once the page is going away).

export function stash(name, producerId, items) {
  try {
    if (items.length) localStorage.setItem(`${name}:stash:${producerId}`, JSON.stringify(items));
    return true;
  } catch {
    return false; // no localStorage, or over its quota: those records live only as long as the page
  }
}

export function dropStash(name, producerId) {
  try {
    localStorage.removeItem(`${name}:stash:${producerId}`);
  } catch {
    // no localStorage
  }
}

/** Every stash left by earlier pages: { slots, items }. Drop the slots once the items are stored again. */
export function readStashes(name) {
  const slots = [];
  const items = [];
  try {
    const prefix = `${name}:stash:`;
    for (let i = 0; i < localStorage.length; i++) {
      const slot = localStorage.key(i);
      if (slot && slot.startsWith(prefix)) slots.push(slot);
    }
    for (const slot of slots) {
      try {
        items.push(...JSON.parse(localStorage.getItem(slot) || "[]"));
      } catch {
        // a torn stash: nothing to take from it
      }
    }
  } catch {
    // no localStorage
  }
  return { slots, items };
}

export function dropSlots(slots) {
  for (const slot of slots) {
    try {
      localStorage.removeItem(slot);
    } catch {
      // no localStorage
    }
  }
}
