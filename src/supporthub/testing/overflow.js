// What sticks out past the right edge of the viewport, except inside an element that
// scrolls sideways on its own (a table's card): the page then needs no sideways scrolling.
() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    let scrolls = false;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      const inside = up.getBoundingClientRect().right <= width + 1;
      if (["auto", "scroll"].includes(style.overflowX) && inside) {
        scrolls = true;
        break;
      }
    }
    if (!scrolls) {
      const name = el.tagName.toLowerCase() + (el.className ? "." + el.className : "");
      wide.push(`${name} ends at ${Math.round(box.right)}px`);
    }
  }
  return { page: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10) };
}
