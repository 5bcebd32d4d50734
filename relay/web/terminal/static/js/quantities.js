// Declared vs actual lines and quantity control: the same rules as the relay's
// relay/documents/lines.py (bind, then discrepancies for none, no_excess or exact).

// Quantities are decimals; sums are rounded to 9 places so 0.1 + 0.2 stays 0.3.
export function add(a, b) {
  return Math.round((Number(a) + Number(b)) * 1e9) / 1e9;
}

export function bind(declared, actual) {
  const lines = new Map();
  for (const line of declared) {
    lines.set(String(line.line_id), { ...line, actual_qty: 0, actual: [] });
  }
  const undeclared = [];
  for (const entry of actual) {
    if (entry.line_id === undefined || entry.line_id === null) {
      undeclared.push({ ...entry });
      continue;
    }
    const target = lines.get(String(entry.line_id));
    if (!target) continue;
    const { line_id: _, ...rest } = entry;
    target.actual.push(rest);
    target.actual_qty = add(target.actual_qty, entry.qty);
  }
  return { lines: [...lines.values()], undeclared };
}

export function discrepancies(mode, lines, undeclared) {
  if (mode === "none") return [];
  const found = [];
  for (const line of lines) {
    const declared = Number(line.declared_qty || 0);
    const actual = line.actual_qty;
    let problem = null;
    if (actual > declared) problem = "excess";
    else if (mode === "exact" && actual < declared) problem = "shortage";
    if (problem) {
      found.push({
        line_id: line.line_id,
        product_id: line.product_id ?? null,
        name: line.name,
        declared_qty: declared,
        actual_qty: actual,
        problem,
      });
    }
  }
  for (const line of undeclared) {
    found.push({
      line_id: null,
      product_id: line.product_id ?? null,
      barcode: line.barcode ?? null,
      name: line.name,
      actual_qty: line.qty,
      problem: "undeclared",
    });
  }
  return found;
}

// The actual lines to send: scans of the same thing (line, product, barcode, serial, lot)
// summed into one line; different serials or lots stay apart.
export function actualLines(scans, accepted) {
  const keep = new Set(accepted);
  const merged = new Map();
  for (const scan of scans) {
    const line = { qty: scan.qty };
    if (scan.line_id !== null && scan.line_id !== undefined) line.line_id = scan.line_id;
    else {
      for (const field of ["product_id", "barcode", "name", "unit"]) {
        if (scan[field] && keep.has(field)) line[field] = scan[field];
      }
    }
    for (const field of ["serial", "lot"]) {
      if (scan[field] && keep.has(field)) line[field] = scan[field];
    }
    const key = JSON.stringify({ ...line, qty: 0 });
    const before = merged.get(key);
    if (before) before.qty = add(before.qty, line.qty);
    else merged.set(key, line);
  }
  return [...merged.values()].filter((line) => line.qty !== 0);
}
