// The catalogs kept on the device: products with their barcodes, synced by version
// (GET /catalogs, then the changes since the stored version, page by page).
import { ApiError, call } from "./api.js";
import * as store from "./store.js";

const PAGE = 1000;

// The version of the products catalog kept on the device (0: none yet).
export async function version() {
  return (await store.get("kv", "catalog:products")) || 0;
}

// Bring the products catalog up to the relay's version; false when the relay has none.
export async function sync(token) {
  let listing;
  try {
    listing = await call("GET", "/catalogs", { token });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return false;
    throw err;
  }
  const products = (listing.data.catalogs || []).find((c) => c.name === "products");
  if (!products) return false;
  const have = await version();
  if (have === products.version) return false;
  try {
    await pull(token, have);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "resync_required")) throw err;
    await store.clear(["products", "barcodes"]);
    await pull(token, 0);
  }
  return true;
}

async function pull(token, since) {
  let after = "";
  let version = since;
  for (let pages = 0; pages < 10000; pages += 1) {
    const query = `since=${since}&limit=${PAGE}` + (after ? `&after=${encodeURIComponent(after)}` : "");
    const page = (await call("GET", `/catalogs/products?${query}`, { token })).data;
    await store.applyProducts(page.items || [], page.deleted || []);
    version = page.version;
    if (!page.next) break;
    after = page.next;
  }
  await store.put("kv", version, "catalog:products");
}

// A barcode in the catalog on the device: {product, factor, unit}, or null.
export async function lookup(barcode) {
  const code = await store.get("barcodes", barcode);
  if (!code) return null;
  const product = await store.get("products", code.product_id);
  return product ? { product, factor: Number(code.factor) || 1, unit: code.unit } : null;
}

// The relay's answer for a barcode (online only): {product, factor, unit}, or null.
export async function resolveOnline(token, barcode) {
  try {
    const found = (await call("GET", `/barcodes/${encodeURIComponent(barcode)}`, { token })).data;
    if (found.type !== "product") return null;
    return { product: found.item, factor: Number(found.factor) || 1, unit: found.unit };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}
