import { nearestPointOnLine, polygonToLine } from '@turf/turf';
import type { Map as MapLibreMap } from 'maplibre-gl';
import { TerraDraw, TerraDrawLineStringMode, TerraDrawPolygonMode, TerraDrawSelectMode, type GeoJSONStoreFeatures } from 'terra-draw';
import { TerraDrawMapLibreGLAdapter } from 'terra-draw-maplibre-gl-adapter';

/** How close (screen pixels) a dragged vertex must come to a neighbour's vertex or edge to land on it. */
const snapPixels = 12;

type Position = [number, number];

/**
 * The drawing tools on the planner's map (terra-draw): editing one grid's boundary, whose vertices snap onto the
 * neighbours' vertices and edges so no sliver is left by hand, and drawing a cut line.
 */
export class BoundaryEditor {
  private readonly draw: TerraDraw;
  private neighbourLines: GeoJSON.Feature<GeoJSON.LineString | GeoJSON.MultiLineString>[] = [];
  private editedId: string | null = null;
  private onBoundary: ((polygon: GeoJSON.Polygon) => void) | null = null;
  private onLine: ((line: GeoJSON.LineString) => void) | null = null;

  constructor(private readonly map: MapLibreMap) {
    this.draw = new TerraDraw({
      adapter: new TerraDrawMapLibreGLAdapter({ map }),
      modes: [
        new TerraDrawPolygonMode(),
        new TerraDrawLineStringMode({ snapping: { toCustom: (event) => this.snap([event.lng, event.lat]) } }),
        new TerraDrawSelectMode({
          flags: {
            polygon: { feature: { coordinates: { draggable: true, midpoints: true, deletable: true, snappable: { toCustom: (event) => this.snap([event.lng, event.lat]) } } } },
          },
        }),
      ],
    });
    this.draw.start();
    this.draw.on('change', (ids) => {
      if (!this.editedId || !ids.includes(this.editedId)) return;
      const feature = this.draw.getSnapshotFeature(this.editedId);
      if (feature?.geometry.type === 'Polygon') this.onBoundary?.(feature.geometry);
    });
    this.draw.on('finish', (id) => {
      const feature = this.draw.getSnapshotFeature(id);
      if (feature?.geometry.type === 'LineString') this.onLine?.(feature.geometry);
    });
  }

  /** Puts the boundary on the map for editing; `neighbours` are the polygons whose edges it snaps to. */
  edit(boundary: GeoJSON.Polygon, neighbours: Array<GeoJSON.Polygon | GeoJSON.MultiPolygon>, onChange: (polygon: GeoJSON.Polygon) => void): void {
    this.stop();
    this.neighbourLines = neighbours.map((geometry) => polygonToLine(geometry) as GeoJSON.Feature<GeoJSON.LineString | GeoJSON.MultiLineString>);
    const id = crypto.randomUUID();
    this.draw.addFeatures([{ id, type: 'Feature', geometry: boundary, properties: { mode: 'polygon' } } as GeoJSONStoreFeatures]);
    this.draw.setMode('select');
    this.draw.selectFeature(id);
    this.editedId = id;
    this.onBoundary = onChange;
  }

  /** Lets the planner draw a line (click each point, Enter to finish) and calls back with it. */
  drawLine(onLine: (line: GeoJSON.LineString) => void): void {
    this.stop();
    this.neighbourLines = [];
    this.draw.setMode('linestring');
    this.onLine = onLine;
  }

  stop(): void {
    this.editedId = null;
    this.onBoundary = null;
    this.onLine = null;
    this.draw.clear();
    this.draw.setMode('static');
  }

  /** The nearest neighbour vertex within snapPixels, else the nearest point on a neighbour's edge, else nothing. */
  private snap(at: Position): Position | undefined {
    const point = this.map.project(at);
    const pixels = (position: Position) => point.dist(this.map.project(position));
    let best: { position: Position; pixels: number } | undefined;
    for (const line of this.neighbourLines) {
      const nearest = nearestPointOnLine(line, at);
      const position = nearest.geometry.coordinates as Position;
      const distance = pixels(position);
      if (distance <= snapPixels && (!best || distance < best.pixels)) best = { position, pixels: distance };
    }
    if (!best) return undefined;
    const vertex = this.nearestVertex(at);
    return vertex && pixels(vertex) <= snapPixels ? vertex : best.position;
  }

  private nearestVertex(at: Position): Position | undefined {
    let best: { position: Position; pixels: number } | undefined;
    const point = this.map.project(at);
    for (const line of this.neighbourLines) {
      const rings = line.geometry.type === 'LineString' ? [line.geometry.coordinates] : line.geometry.coordinates;
      for (const ring of rings) {
        for (const position of ring as Position[]) {
          const distance = point.dist(this.map.project(position));
          if (!best || distance < best.pixels) best = { position, pixels: distance };
        }
      }
    }
    return best?.position;
  }
}

/** The one polygon of a grid that terra-draw can edit (it edits Polygons); null for a multi-part grid. */
export function editablePolygon(geometry: GeoJSON.Polygon | GeoJSON.MultiPolygon): GeoJSON.Polygon | null {
  if (geometry.type === 'Polygon') return geometry;
  return geometry.coordinates.length === 1 ? { type: 'Polygon', coordinates: geometry.coordinates[0] } : null;
}
