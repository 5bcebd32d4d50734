// IndexedDB on the device: settings, claimed documents with their scans, the outbox of
// completions waiting to be sent, and the catalogs (products and their barcodes).
const NAME = "relay-terminal";
const STORES = {
  kv: {},
  docs: { keyPath: "id" },
  outbox: { keyPath: "submission_id" },
  products: { keyPath: "id" },
  barcodes: { keyPath: "barcode" },
};
let opened = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function database() {
  if (!opened) {
    const req = indexedDB.open(NAME, 1);
    req.onupgradeneeded = () => {
      for (const [name, options] of Object.entries(STORES)) {
        if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name, options);
      }
    };
    opened = request(req);
  }
  return opened;
}

async function run(names, mode, work) {
  const db = await database();
  const tx = db.transaction(names, mode);
  const done = new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
  const result = work(tx);
  await done;
  return result instanceof IDBRequest ? result.result : result;
}

export function get(store, key) {
  return run([store], "readonly", (tx) => tx.objectStore(store).get(key));
}

export function all(store) {
  return run([store], "readonly", (tx) => tx.objectStore(store).getAll());
}

export function count(store) {
  return run([store], "readonly", (tx) => tx.objectStore(store).count());
}

export function put(store, value, key) {
  return run([store], "readwrite", (tx) => {
    tx.objectStore(store).put(value, key);
  });
}

export function remove(store, key) {
  return run([store], "readwrite", (tx) => {
    tx.objectStore(store).delete(key);
  });
}

export function clear(names) {
  return run(names, "readwrite", (tx) => {
    for (const name of names) tx.objectStore(name).clear();
  });
}

// Apply one page of a catalog in one transaction: upserted products with their barcodes,
// deleted products with theirs.
export function applyProducts(items, deleted) {
  return run(["products", "barcodes"], "readwrite", (tx) => {
    const products = tx.objectStore("products");
    const barcodes = tx.objectStore("barcodes");
    const drop = (id) => {
      const old = products.get(id);
      old.onsuccess = () => {
        for (const code of (old.result && old.result.barcodes) || []) barcodes.delete(code.barcode);
        products.delete(id);
      };
    };
    for (const id of deleted) drop(id);
    for (const item of items) {
      const old = products.get(item.id);
      old.onsuccess = () => {
        for (const code of (old.result && old.result.barcodes) || []) barcodes.delete(code.barcode);
        products.put(item);
        for (const code of item.barcodes || []) {
          barcodes.put({
            barcode: String(code.barcode),
            product_id: item.id,
            factor: code.factor ?? 1,
            unit: code.unit ?? item.unit ?? "",
          });
        }
      };
    }
  });
}
