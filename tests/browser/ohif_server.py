"""OHIF's built viewer and orthanc_py on one origin, as a hospital serves them behind one proxy.

``python -m tests.browser.ohif_server CONFIG.json OHIF_DIST PORT``: requests under the DICOMweb roots
go to orthanc_py's application; anything else is a file of the viewer, and unknown paths (the
viewer's own routes such as ``/viewer``) get its ``index.html``. ``/app-config.js`` is replaced by
a configuration whose only data source is orthanc_py's DICOMweb API.
"""

from __future__ import annotations

import asyncio
import os
import sys

from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from orthanc_py.app import create_app
from orthanc_py.config import load_settings

APP_CONFIG = """
window.config = {
  routerBasename: '/',
  extensions: [],
  modes: [],
  showStudyList: true,
  maxNumberOfWebWorkers: 2,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false,
  showLoadingIndicator: true,
  investigationalUseDialog: { option: 'never' },
  defaultDataSourceName: 'orthanc',
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'orthanc',
      configuration: {
        friendlyName: 'orthanc_py',
        name: 'orthanc',
        wadoUriRoot: '/wado',
        qidoRoot: '/dicom-web',
        wadoRoot: '/dicom-web',
        qidoSupportsIncludeField: true,
        supportsReject: false,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: true,
        supportsWildcard: true,
        bulkDataURI: { enabled: true },
      },
    },
  ],
};
"""

DICOMWEB_PREFIXES = ("/dicom-web", "/wado")


class ViewerAndServer:
    def __init__(self, orthanc, dist: str) -> None:  # type: ignore[no-untyped-def]
        self.orthanc = orthanc
        self.dist = dist
        self.files = StaticFiles(directory=dist)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(DICOMWEB_PREFIXES):
            await self.orthanc(scope, receive, send)
        elif path == "/app-config.js":
            await Response(APP_CONFIG, media_type="application/javascript")(scope, receive, send)
        elif path != "/" and os.path.isfile(os.path.join(self.dist, path.lstrip("/"))):
            await self.files(scope, receive, send)
        else:
            await FileResponse(os.path.join(self.dist, "index.html"))(scope, receive, send)


async def main(config_path: str, dist: str, port: int) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    settings = load_settings(config_path)
    app = ViewerAndServer(create_app(settings), dist)
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    await serve(app, config)  # type: ignore[arg-type]


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
