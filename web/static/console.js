// Progressive enhancement only: every page works without it.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent;
  const status = document.getElementById("copy-status");
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied.";
  } catch (error) {
    // No clipboard access (plain http, or refused): select the text for a manual copy.
    window.getSelection().selectAllChildren(document.getElementById(button.dataset.copy));
    status.textContent = "Selected: press Ctrl+C to copy.";
  }
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
