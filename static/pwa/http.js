/* Answers whose body nobody needs are still read to the end. An unread body keeps its request
   open: with nothing caching it (our JSON answers say no-store) the browser holds the response
   and its connection until the page is gone, and HTTP/1.1 gives a page six connections per host.
   tests/conftest.py UnfinishedWatch fails a browser test that leaves one unread. */
export function drain(resp) {
  if (resp && !resp.bodyUsed) resp.arrayBuffer().catch(() => {});
  return resp;
}
