// dcc.Upload reads the chosen files in parallel and lists them in the order they finish loading.
// Record the order a person chose (or dropped) them in the page's upload-order store, so the page
// can show the batch in that order (`in_chosen_order` in app_predict/pages/predict.py).
(function () {
  function remember(event, files) {
    const zone = event.target && event.target.closest && event.target.closest('#upload');
    if (!zone || !files || !window.dash_clientside || !window.dash_clientside.set_props) {
      return;
    }
    window.dash_clientside.set_props('upload-order-store', {data: Array.from(files, file => file.name)});
  }
  document.addEventListener('change', event => remember(event, event.target.files), true);
  document.addEventListener('drop', event => remember(event, event.dataTransfer && event.dataTransfer.files), true);
})();
