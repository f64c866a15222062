/// `GET /`: a search page. Drop a JPEG (or pick one) and it is posted raw to `/v1/query`;
/// the ranked results come back as thumbnails (`/v1/images/{id}/thumbnail`) with rank, score
/// and file name, and the query's stage timings. One self-contained page, no scripts from elsewhere.
/// `/#query=ID` searches with indexed image ID's thumbnail on load (scripts/server-screenshot.sh).
enum SearchPage {
    static let html = """
    <!DOCTYPE html>
    <html lang="en"><head><meta charset="utf-8"><title>Tessera search</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>
    body{font-family:system-ui,sans-serif;margin:24px;background:#f7f7f8;color:#1f2328}
    h1{font-size:22px;margin:0 0 4px} .sub{color:#57606a;font-size:13px;margin-bottom:16px}
    #drop{border:2px dashed #8c959f;border-radius:10px;padding:28px;text-align:center;background:#fff;cursor:pointer}
    #drop.over{border-color:#2563eb;background:#eff6ff}
    #query{display:none;max-height:180px;border-radius:6px;margin-top:12px;border:3px solid #2563eb}
    #status{margin:14px 0;font-size:14px;color:#57606a} #status.error{color:#b91c1c}
    #results{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
    figure{margin:0;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:8px}
    figure img{width:100%;height:128px;object-fit:cover;border-radius:4px;background:#eaeef2}
    figcaption{font-size:12px;line-height:1.4;word-break:break-all;margin-top:4px}
    .score{font-weight:600} label{font-size:13px}
    </style></head><body>
    <h1>Tessera</h1>
    <div class="sub" id="stats">image retrieval: drop a photo to find the same object or place</div>
    <label>results <input id="top" type="number" min="1" max="100" value="12" style="width:4em"></label>
    <label><input id="rerank" type="checkbox" checked> rerank</label>
    <div id="drop" tabindex="0">Drop a JPEG here, or click to choose one
      <input id="file" type="file" accept="image/jpeg" hidden><br><img id="query" alt="query"></div>
    <div id="status"></div>
    <div id="results"></div>
    <script>
    const drop = document.getElementById('drop'), file = document.getElementById('file');
    const status = document.getElementById('status'), results = document.getElementById('results');
    fetch('/v1/stats').then(r => r.json()).then(s => {
      document.getElementById('stats').textContent = s.images + ' images indexed, ' + s.layers.length + ' layers';
    }).catch(() => {});
    drop.onclick = () => file.click();
    file.onchange = () => { if (file.files.length) search(file.files[0]); };
    drop.ondragover = e => { e.preventDefault(); drop.classList.add('over'); };
    drop.ondragleave = () => drop.classList.remove('over');
    drop.ondrop = e => { e.preventDefault(); drop.classList.remove('over');
      if (e.dataTransfer.files.length) search(e.dataTransfer.files[0]); };
    function text(tag, cls, s) { const el = document.createElement(tag); el.className = cls; el.textContent = s;
      return el; }
    async function search(f) {
      const q = document.getElementById('query'); q.src = URL.createObjectURL(f); q.style.display = 'inline';
      status.className = ''; status.textContent = 'searching…'; results.innerHTML = '';
      const params = new URLSearchParams({top: document.getElementById('top').value,
                                          rerank: document.getElementById('rerank').checked});
      try {
        const r = await fetch('/v1/query?' + params, {method: 'POST', body: f,
                                                      headers: {'Content-Type': 'image/jpeg'}});
        const body = await r.json();
        if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
        const t = body.timings;
        status.textContent = body.results.length + ' results in ' + (1000 * t.total).toFixed(0) + ' ms (CNN '
          + (1000 * t.cnn).toFixed(0) + ' ms, scan ' + (1000 * t.scan).toFixed(1) + ' ms)';
        for (const x of body.results) {
          const fig = document.createElement('figure'), img = document.createElement('img');
          img.src = '/v1/images/' + x.id + '/thumbnail'; img.alt = x.path; img.loading = 'lazy';
          const cap = document.createElement('figcaption');
          cap.append(text('span', 'score', '#' + x.rank + ' · ' + x.score.toFixed(3)), document.createElement('br'),
                     text('span', 'name', x.path.split('/').pop()));
          fig.append(img, cap); results.append(fig);
        }
      } catch (e) { status.className = 'error'; status.textContent = 'error: ' + e.message; }
    }
    const m = location.hash.match(/^#query=(\\d+)$/);
    if (m) fetch('/v1/images/' + m[1] + '/thumbnail')
      .then(r => r.ok ? r.blob() : Promise.reject(new Error(r.statusText))).then(b => search(b))
      .catch(e => { status.className = 'error'; status.textContent = 'error: ' + e.message; });
    </script></body></html>
    """
}
