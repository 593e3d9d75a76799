// Builds an operation's parameter form from GET /api/v1/operations
// (type, minimum/maximum, enum, default, description) and reads it back.

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

export function renderParams(fieldset, op) {
  for (const n of [...fieldset.children]) if (n.tagName !== "LEGEND") n.remove();
  if (!op.parameters.length) fieldset.append(el("p", { class: "hint" }, "This operation takes no parameters."));
  for (const p of op.parameters) {
    const id = `param-${p.name}`;
    const wrap = el("div", { class: "param" });
    const described = `${id}-desc ${id}-error`;
    let input;
    const def = p.default === undefined || p.default === null ? "" : String(p.default);
    if (p.type === "boolean") {
      input = el("input", { id, type: "checkbox", name: p.name, "aria-describedby": described });
      input.checked = def === "true" || def === "1";
      const label = el("label", { for: id });
      label.append(input, document.createTextNode(" " + p.name));
      wrap.append(label);
    } else {
      wrap.append(el("label", { for: id }, p.name));
      if (p.type === "enum" && Array.isArray(p.enum)) {
        input = el("select", { id, name: p.name, "aria-describedby": described });
        for (const c of p.enum) {
          const o = el("option", { value: c }, c);
          if (c === def) o.selected = true;
          input.append(o);
        }
      } else if (p.type === "integer" || p.type === "number") {
        input = el("input", { id, name: p.name, type: "number", inputmode: p.type === "integer" ? "numeric" : "decimal",
                             step: p.type === "integer" ? "1" : "any", "aria-describedby": described });
        if (p.minimum !== undefined) input.setAttribute("min", p.minimum);
        if (p.maximum !== undefined) input.setAttribute("max", p.maximum);
        input.value = def;
      } else {
        input = el("input", { id, name: p.name, type: "text", "aria-describedby": described });
        if (p.type === "color") input.setAttribute("placeholder", "#rrggbb, #rrggbbaa or a name");
        input.value = def;
      }
      wrap.append(input);
    }
    input.dataset.param = p.name;
    input.dataset.type = p.type;
    input.dataset.default = def;
    let desc = p.description || "";
    if (p.minimum !== undefined || p.maximum !== undefined) desc += ` (${p.minimum ?? "…"} to ${p.maximum ?? "…"})`;
    if (def !== "") desc += ` Default: ${def}.`;
    wrap.append(el("p", { id: `${id}-desc`, class: "hint" }, desc.trim()));
    wrap.append(el("p", { id: `${id}-error`, class: "error", role: "alert" }));
    fieldset.append(wrap);
  }
}

// The parameters that differ from their defaults (the server fills the rest).
export function readParams(fieldset) {
  const out = {};
  for (const input of fieldset.querySelectorAll("[data-param]")) {
    const v = input.type === "checkbox" ? String(input.checked) : input.value.trim();
    if (v !== "" && v !== input.dataset.default) out[input.dataset.param] = v;
  }
  return out;
}

export function clearErrors(root) {
  for (const e of root.querySelectorAll(".error")) e.textContent = "";
  for (const e of root.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
}

// Shows `message` next to parameter `name`; false when there is no such field.
export function showParamError(fieldset, name, message) {
  const input = fieldset.querySelector(`[data-param="${CSS.escape(name)}"]`);
  if (!input) return false;
  input.setAttribute("aria-invalid", "true");
  document.getElementById(`${input.id}-error`).textContent = message;
  input.focus();
  return true;
}
