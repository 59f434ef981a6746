"""PyQGIS against citygrid's /ogc, as a planner's QGIS uses it: opens one collection with QGIS's OAPIF provider and
reads every feature; when this QGIS can edit through OGC API - Features Part 4 (its OAPIF provider can from QGIS
3.32; Debian 12 ships 3.22), renames one feature through the provider and commits.

Usage: qgis-oapif.py BASE_URL TOKEN COLLECTION CODE NEW_NAME. Prints one JSON object."""
import json
import os
import sys

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
from qgis.core import Qgis, QgsApplication, QgsVectorDataProvider, QgsVectorLayer  # noqa: E402

base, token, collection, code, new_name = sys.argv[1:6]
QgsApplication.setPrefixPath('/usr', True)
app = QgsApplication([], False)
app.initQgis()
layer = QgsVectorLayer(f"url='{base}/ogc?access_token={token}' typename='{collection}' restrictToRequestBBOX='0'", collection, 'OAPIF')
# layer.error() crashes QGIS 3.22's bindings: validity alone tells.
answer = {'version': Qgis.QGIS_VERSION_INT, 'valid': layer.isValid()}
if layer.isValid():
    features = list(layer.getFeatures())
    answer['features'] = [{'code': f['code'], 'name': f['name'], 'areaM2': f.geometry().area()} for f in features]
    capabilities = layer.dataProvider().capabilities()
    answer['canChangeAttributes'] = bool(capabilities & QgsVectorDataProvider.ChangeAttributeValues)
    target = next((f for f in features if f['code'] == code), None)
    if answer['canChangeAttributes'] and target is not None:
        layer.startEditing()
        layer.changeAttributeValue(target.id(), layer.fields().indexOf('name'), new_name)
        answer['committed'] = layer.commitChanges()
        answer['commitErrors'] = layer.commitErrors()
print(json.dumps(answer, ensure_ascii=False), flush=True)
# QGIS 3.22 crashes while Python tears its objects down after exitQgis(): leave without the teardown.
os._exit(0)
