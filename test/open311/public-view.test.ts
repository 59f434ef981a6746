import { hiddenEmail, hiddenIdCard, hiddenPhone, publicDescription } from '../../server/open311/public-view';
import { pointInGrid } from '../incidents/support';
import { useTestApp } from '../support/app';

describe('what the public reads of a report', () => {
  it.each([
    ['请联系13812345678，谢谢', `请联系${hiddenPhone}，谢谢`],
    ['电话 +86 138 1234 5678 白天', `电话 ${hiddenPhone} 白天`],
    ['电话138-1234-5678', `电话${hiddenPhone}`],
    ['0086-19912345678或8615912345678', `${hiddenPhone}或${hiddenPhone}`],
    ['手机１３８１２３４５６７８（全角）', `手机${hiddenPhone}（全角）`],
    ['身份证号320503199003071234', `身份证号${hiddenIdCard}`],
    ['身份证11010119900307123X，户主', `身份证${hiddenIdCard}，户主`],
    ['证件号11010119900307123x', `证件号${hiddenIdCard}`],
    ['身份证 320503 19900307 1234', `身份证 ${hiddenIdCard}`],
    ['老身份证320503900307123', `老身份证${hiddenIdCard}`],
    ['户主320503199003071234电话13812345678', `户主${hiddenIdCard}电话${hiddenPhone}`],
    ['回复至 zhang.san+311@example.com.cn 或13812345678@qq.com', `回复至 ${hiddenEmail} 或${hiddenEmail}`],
  ])('removes phone and ID-card numbers and e-mail addresses: %s', (text, expected) => {
    expect(publicDescription(text)).toBe(expected);
  });

  it.each([
    '井盖松动，位于12号楼南侧',
    '2025-03-01 08:00 发现，约30平方米',
    '工单号20250301123456，已转办',
    '座机0512-66881234', // a landline is an office's, not a person's
    '12345678901 不是手机号（12 开头）',
    '编号138123456789（12 位）',
    '订单123456789012345678（日期不成立）',
    '金额1380000元',
    '网址 https://www.sipac.gov.cn/ 有公告',
    '@物业 请处理',
  ])('keeps what is none of them: %s', (text) => {
    expect(publicDescription(text)).toBe(text);
  });

  describe('Open311 reads', () => {
    const suite = useTestApp();

    async function reportAt(category: string, at: { lon: number; lat: number }, description: string): Promise<number> {
      const { api } = suite;
      const created = await api.request
        .post('/api/incidents')
        .set(api.auth('hotline'))
        .send({ category, location: { type: 'Point', coordinates: [at.lon, at.lat] }, description, source: 'hotline' })
        .expect(201);
      return created.body.id;
    }

    const publicRequest = async (id: number) => (await suite.api.request.get(`/open311/v2/requests/${id}.json`).expect(200)).body[0];

    it('shows descriptions without phone and ID-card numbers; staff still read them whole', async () => {
      const { api, db } = suite;
      const at = await pointInGrid(db.pool, 2);
      const description = '邻居张某13812345678，身份证320503199003071234，车库漏水';
      const id = await reportAt('供水漏水', at, description);
      expect((await publicRequest(id)).description).toBe(`邻居张某${hiddenPhone}，身份证${hiddenIdCard}，车库漏水`);
      const listed = (await api.request.get('/open311/v2/requests.json').query({ service_request_id: String(id) }).expect(200)).body;
      expect(listed[0].description).toBe(`邻居张某${hiddenPhone}，身份证${hiddenIdCard}，车库漏水`);
      expect((await api.request.get(`/api/incidents/${id}`).set(api.auth('commander')).expect(200)).body.description).toBe(description);
    });

    it('places reports of sensitive categories at the centre of their H3 cell, others exactly; admins mark categories', async () => {
      const { api, db } = suite;
      const at = await pointInGrid(db.pool, 3);
      const near = { lon: at.lon + 0.0003, lat: at.lat + 0.0002 };
      const categories = (await api.request.get('/api/incidents/categories').set(api.auth('commander')).expect(200)).body.categories;
      const sensitive = categories.filter((category: { sensitive: boolean }) => category.sensitive).map((category: { name: string }) => category.name);
      expect(sensitive).toEqual(expect.arrayContaining(['矛盾纠纷', '治安隐患', '流动人口登记', '群租']));
      expect(sensitive).not.toContain('窨井盖');

      const dispute = await publicRequest(await reportAt('矛盾纠纷', at, '家庭纠纷'));
      const neighbour = await publicRequest(await reportAt('矛盾纠纷', near, '邻里纠纷'));
      const exactMetres = Math.hypot((dispute.long - at.lon) * 95_000, (dispute.lat - at.lat) * 111_000);
      expect(exactMetres).toBeGreaterThan(1);
      expect(exactMetres).toBeLessThan(600);
      // Two doors some 40 m apart read the same: the point no longer names a building.
      expect([neighbour.lat, neighbour.long]).toEqual([dispute.lat, dispute.long]);

      const manhole = await publicRequest(await reportAt('窨井盖', at, '井盖松动'));
      expect(manhole.lat).toBeCloseTo(at.lat, 6);
      expect(manhole.long).toBeCloseTo(at.lon, 6);

      await api.request.patch(`/api/incidents/categories/${encodeURIComponent('窨井盖')}`).set(api.auth('commander')).send({ sensitive: true }).expect(403);
      const marked = await api.request.patch(`/api/incidents/categories/${encodeURIComponent('窨井盖')}`).set(api.auth('admin')).send({ sensitive: true }).expect(200);
      expect(marked.body.sensitive).toBe(true);
      const approximate = await publicRequest(Number(manhole.service_request_id));
      expect(approximate.lat).not.toBeCloseTo(at.lat, 6);
    });
  });
});
